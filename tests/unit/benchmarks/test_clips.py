"""The committed clip set keeps the promises the voice benchmark relies on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.make_clips import default_renders
from benchmarks.pcm import FRAME_SAMPLES, read_wav
from benchmarks.voice_client import load_clips

pytestmark = pytest.mark.unit

CLIPS = Path(__file__).resolve().parents[3] / "benchmarks" / "clips"


def test_manifest_lists_exactly_the_generated_set() -> None:
    manifest = json.loads((CLIPS / "manifest.json").read_text())
    assert [entry["file"] for entry in manifest] == [render.file for render in default_renders()]
    assert sorted(p.name for p in CLIPS.glob("*.wav")) == sorted(entry["file"] for entry in manifest)
    assert {entry["kind"] for entry in manifest} == {"question", "barge_in"}
    assert 40 <= len(manifest) <= 60
    assert sum(p.stat().st_size for p in CLIPS.glob("*.wav")) < 6_000_000
    for entry in manifest:
        assert (entry["noise"] is None) == (entry["noise_snr_db"] is None)


def test_every_clip_is_16k_mono_with_leading_silence_and_speech_to_the_end() -> None:
    for clip in load_clips(CLIPS):
        samples, rate = read_wav(CLIPS / clip.file)
        assert rate == 16000
        assert not any(clip.voiced[:9]), f"{clip.file}: speech inside the 200 ms leading silence"
        # No silence was appended: the last voiced frame is within the 40 ms tail of the end. Under
        # 15-20 dB of noise the energy threshold loses the faintest final consonant, up to 140 ms.
        assert len(clip.voiced) - 1 - clip.last_voiced <= (8 if clip.noise else 3), clip.file
        assert samples.size > FRAME_SAMPLES * 20


def test_barge_in_clips_have_enough_speech_to_interrupt() -> None:
    for clip in load_clips(CLIPS):
        if clip.kind == "barge_in":
            assert clip.frame_reaching(200) > 0, clip.file
