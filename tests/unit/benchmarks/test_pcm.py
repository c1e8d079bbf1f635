from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.pcm import (
    FRAME_SAMPLES,
    frame_levels_db,
    last_voiced_frame,
    read_wav,
    resample,
    to_float,
    to_int16,
    voiced_frames,
    write_wav,
)

pytestmark = pytest.mark.unit


def _tone(freq: float, rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def _dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.argmax(spectrum) * rate / samples.size)


def test_resampling_keeps_pitch_and_level() -> None:
    out = resample(_tone(1000, 22050, 1.0), 22050, 16000)
    assert out.size == 16000
    assert _dominant_hz(out, 16000) == pytest.approx(1000, abs=2)
    middle = out[1000:-1000]  # away from the zero-padded edges
    assert np.sqrt(np.mean(middle**2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_resampling_removes_what_would_alias() -> None:
    # 10 kHz is above the new Nyquist (8 kHz): naive decimation would fold it to 6 kHz.
    out = resample(_tone(10_000, 22050, 1.0), 22050, 16000)
    assert np.sqrt(np.mean(out[1000:-1000] ** 2)) < 0.005


def test_same_rate_is_a_copy() -> None:
    tone = _tone(440, 16000, 0.1)
    out = resample(tone, 16000, 16000)
    assert out is not tone
    np.testing.assert_array_equal(out, tone)


@given(st.lists(st.integers(-32768, 32767), max_size=200))
def test_int16_float_round_trip(values: list[int]) -> None:
    samples = np.array(values, dtype=np.int16)
    np.testing.assert_array_equal(to_int16(to_float(samples)), samples)


def test_wav_round_trip(tmp_path: Path) -> None:
    samples = to_int16(_tone(300, 16000, 0.05))
    write_wav(tmp_path / "a.wav", samples)
    back, rate = read_wav(tmp_path / "a.wav")
    assert rate == 16000
    np.testing.assert_array_equal(back, samples)
    assert not list(tmp_path.glob("*.part"))


def test_voiced_frames_find_speech_between_silences() -> None:
    quiet, loud = np.zeros(FRAME_SAMPLES * 10), _tone(200, 16000, FRAME_SAMPLES * 5 / 16000)
    clip = np.concatenate([quiet, loud, quiet])
    mask = voiced_frames(clip)
    assert list(np.flatnonzero(mask)) == [10, 11, 12, 13, 14]
    assert last_voiced_frame(to_int16(clip)) == 14
    assert last_voiced_frame(np.zeros(100, dtype=np.int16)) == -1


def test_noise_floor_from_leading_frames_keeps_noise_out() -> None:
    rng = np.random.default_rng(0)
    speech = np.concatenate(
        [np.zeros(FRAME_SAMPLES * 10), _tone(200, 16000, 0.1, 0.3), np.zeros(FRAME_SAMPLES * 10)]
    )
    noisy = speech + rng.standard_normal(speech.size) * 0.3 / np.sqrt(2) / 10 ** (15 / 20)  # 15 dB SNR
    assert np.flatnonzero(voiced_frames(noisy, floor_frames=10)).tolist() == list(range(10, 15))
    # Without the floor, 35 dB under the peak is below the noise and everything counts as speech.
    assert voiced_frames(noisy).all()


def test_frame_levels() -> None:
    levels = frame_levels_db(np.full(FRAME_SAMPLES * 2 + 1, 0.5))
    assert levels.size == 3
    assert levels[0] == pytest.approx(20 * np.log10(0.5))
