"""A block of mono PCM16 audio and how to save it as WAV."""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class AudioClip:
    """Mono signed 16-bit little-endian PCM at `sample_rate` Hz."""

    pcm: bytes
    sample_rate: int

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return len(self.pcm) / 2 / self.sample_rate


def write_wav(path: Path, clip: AudioClip) -> None:
    """Write `clip` as a 16-bit mono WAV file, replacing `path` atomically."""
    tmp = path.with_name(path.name + ".part")
    with wave.open(str(tmp), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(clip.sample_rate)
        out.writeframes(clip.pcm)
    tmp.replace(path)
