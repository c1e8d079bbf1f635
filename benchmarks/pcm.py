"""16 kHz mono PCM16 helpers shared by the clip generator and the voice benchmark client.

Only numpy: the clip set must regenerate the same bytes wherever the script runs, so resampling and
voiced-frame detection are written out here rather than borrowed from an audio library whose filters
change between releases.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16_000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000  # 320 samples = 640 bytes per frame
FULL_SCALE = 32768.0

Float = npt.NDArray[np.float64]
Int16 = npt.NDArray[np.int16]


def read_wav(path: Path) -> tuple[Int16, int]:
    """Samples and sample rate of a 16-bit mono WAV file."""
    with wave.open(str(path), "rb") as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise ValueError(
                f"{path}: expected 16-bit mono, got {wav.getnchannels()} ch x {wav.getsampwidth()} B"
            )
        rate = wav.getframerate()
        data = wav.readframes(wav.getnframes())
    return np.frombuffer(data, dtype="<i2").astype(np.int16), rate


def write_wav(path: Path, samples: Int16, rate: int = SAMPLE_RATE) -> None:
    """Write 16-bit mono WAV, replacing `path` atomically so a crash never leaves half a clip."""
    tmp = path.with_name(path.name + ".part")
    with wave.open(str(tmp), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.astype("<i2").tobytes())
    tmp.replace(path)


def to_int16(samples: Float) -> Int16:
    """Float samples in [-1, 1) to PCM16, clipping rather than wrapping around."""
    return np.clip(np.round(samples * FULL_SCALE), -32768, 32767).astype(np.int16)


def to_float(samples: Int16) -> Float:
    """PCM16 to float samples in [-1, 1)."""
    return samples.astype(np.float64) / FULL_SCALE


def resample(samples: Float, src_rate: int, dst_rate: int, half_width: int = 32) -> Float:
    """Band-limited resampling by a Hann-windowed sinc evaluated at every output instant.

    Direct evaluation costs O(n * half_width) but is exact for any ratio (22,050 -> 16,000 is 320/441,
    awkward for a polyphase bank) and short clips make the cost irrelevant. The cutoff sits at 95% of
    the lower Nyquist so the transition band stays below 8 kHz instead of folding back as aliasing.
    """
    if src_rate == dst_rate or samples.size == 0:
        return samples.astype(np.float64, copy=True)
    ratio = dst_rate / src_rate
    cutoff = 0.95 * min(1.0, ratio)  # in cycles per source sample, relative to the source Nyquist
    n_out = int(round(samples.size * ratio))
    positions = np.arange(n_out, dtype=np.float64) / ratio
    offsets = np.arange(-half_width + 1, half_width + 1)
    out = np.empty(n_out, dtype=np.float64)
    # Blocks bound the (n x taps) matrices to a few MB whatever the clip length.
    block = 8192
    for start in range(0, n_out, block):
        pos = positions[start : start + block]
        index = np.floor(pos).astype(np.int64)[:, None] + offsets[None, :]
        distance = pos[:, None] - index
        window = 0.5 * (1.0 + np.cos(np.pi * np.clip(distance / half_width, -1.0, 1.0)))
        kernel = cutoff * np.sinc(cutoff * distance) * window
        valid = (index >= 0) & (index < samples.size)
        taps = np.where(valid, samples[np.clip(index, 0, samples.size - 1)], 0.0)
        out[start : start + block] = np.sum(taps * kernel, axis=1)
    return out


def frame_levels_db(samples: Float, frame: int = FRAME_SAMPLES) -> Float:
    """RMS level of each whole frame in dBFS (a trailing partial frame counts as a frame)."""
    n_frames = -(-samples.size // frame)
    padded = np.zeros(n_frames * frame, dtype=np.float64)
    padded[: samples.size] = samples
    rms = np.sqrt(np.mean(padded.reshape(n_frames, frame) ** 2, axis=1))
    levels: Float = 20.0 * np.log10(np.maximum(rms, 1e-9))
    return levels


def voiced_frames(samples: Float, frame: int = FRAME_SAMPLES, floor_frames: int = 0) -> npt.NDArray[np.bool_]:
    """Which frames carry speech, by an energy threshold computed once for the whole clip.

    The threshold is 35 dB under the loudest frame, but never below -55 dBFS, and, when the clip
    starts with `floor_frames` frames of known non-speech (the leading silence of our clips, which
    carries the noise in noisy variants), 2 dB over the loudest of those: otherwise at 15 dB SNR every
    noise frame would count as speech. The margin is small on purpose: a final "s" is often only a
    few dB over the noise, and missing it would move the end of speech earlier by a whole syllable.
    """
    levels = frame_levels_db(samples, frame)
    if levels.size == 0:
        return np.zeros(0, dtype=np.bool_)
    threshold = max(float(levels.max()) - 35.0, -55.0)
    if 0 < floor_frames < levels.size:
        threshold = max(threshold, float(levels[:floor_frames].max()) + 2.0)
    mask: npt.NDArray[np.bool_] = levels > threshold
    return mask


def last_voiced_frame(samples: Int16, floor_frames: int = 0) -> int:
    """Index of the last 20 ms frame judged voiced; -1 if none is."""
    found = np.flatnonzero(voiced_frames(to_float(samples), FRAME_SAMPLES, floor_frames))
    return int(found[-1]) if found.size else -1
