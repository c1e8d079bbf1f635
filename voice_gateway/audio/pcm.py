"""PCM16 helpers: frame validation, re-windowing to the VAD's size, and a light noise suppressor."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


class FrameError(ValueError):
    """A client audio frame that cannot be PCM16; `code` goes into the protocol's `error`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_frame(frame: bytes, max_bytes: int) -> None:
    """Raise `FrameError` unless `frame` is a non-empty whole number of 16-bit samples within the cap."""
    if len(frame) > max_bytes:
        raise FrameError("frame_too_large", f"audio frames are limited to {max_bytes} bytes")
    if not frame or len(frame) % 2:
        raise FrameError("bad_frame", "audio frames must be PCM16: a non-zero, even number of bytes")


class Rewindower:
    """Collects PCM of any (even) length and yields windows of exactly `window_bytes`."""

    def __init__(self, window_bytes: int) -> None:
        self._window = window_bytes
        self._buffer = bytearray()

    def push(self, pcm: bytes) -> list[bytes]:
        """Add audio; return every complete window now available, oldest first."""
        self._buffer += pcm
        count = len(self._buffer) // self._window
        windows = [bytes(self._buffer[i * self._window : (i + 1) * self._window]) for i in range(count)]
        del self._buffer[: count * self._window]
        return windows


class NoiseSuppressor:
    """A first-order high-pass (removes rumble and DC) and a soft gate on quiet windows.

    Cheap enough for every frame; it does not try to remove noise under speech (the VAD and the
    recognizer cope with that), only hum and the hiss between words.
    """

    def __init__(self, sample_rate: int = 16_000, cutoff_hz: float = 80.0, gate_dbfs: float = -50.0) -> None:
        rc = 1.0 / (2 * np.pi * cutoff_hz)
        dt = 1.0 / sample_rate
        self._alpha = rc / (rc + dt)
        self._prev_in = 0.0
        self._prev_out = 0.0
        self._gate = 32768.0 * 10 ** (gate_dbfs / 20)

    def process(self, pcm: bytes) -> bytes:
        """Filter one block of PCM16; state carries across calls."""
        x = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
        y = np.empty_like(x)
        prev_in, prev_out, alpha = self._prev_in, self._prev_out, self._alpha
        for i, sample in enumerate(x):
            prev_out = alpha * (prev_out + sample - prev_in)
            prev_in = sample
            y[i] = prev_out
        self._prev_in, self._prev_out = prev_in, prev_out
        rms = float(np.sqrt(np.mean(y * y))) if len(y) else 0.0
        if rms < self._gate:
            y *= 0.1  # soft: attenuate rather than mute, so word onsets are not clipped
        return _to_pcm16(y)


def _to_pcm16(samples: npt.NDArray[np.float64]) -> bytes:
    return bytes(np.clip(samples, -32768, 32767).astype("<i2").tobytes())


def rms_dbfs(pcm: bytes) -> float:
    """Loudness of PCM16 audio in dBFS (-inf for digital silence)."""
    x = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    if not len(x):
        return float("-inf")
    rms = float(np.sqrt(np.mean(x * x)))
    return float("-inf") if rms == 0 else 20 * float(np.log10(rms / 32768.0))
