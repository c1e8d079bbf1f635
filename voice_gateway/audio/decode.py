"""Decoding uploaded audio files (WAV, Ogg/Opus, WebM/Opus, and whatever else FFmpeg reads) to
16 kHz mono PCM16, with limits checked while decoding so a huge or endless file costs little."""

from __future__ import annotations

import io

import av
import av.error

TARGET_RATE = 16_000
_ALLOWED_CONTAINERS = frozenset(
    {"wav", "ogg", "matroska,webm", "webm", "mp3", "flac", "mov,mp4,m4a,3gp,3g2,mj2"}
)


class AudioDecodeError(ValueError):
    """An upload that is not usable audio. `code`: unsupported_audio, corrupt_audio, audio_too_long."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def decode_to_pcm16k(data: bytes, max_seconds: float) -> bytes:
    """Decode a whole audio file to 16 kHz mono PCM16.

    Raises:
        AudioDecodeError: the format is not audio we accept, the data is damaged, or it is too long.
    """
    if not data:
        raise AudioDecodeError("unsupported_audio", "the upload is empty")
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.error.FFmpegError, ValueError) as exc:
        raise AudioDecodeError(
            "unsupported_audio", "not a recognized audio format (use WAV, Ogg/Opus or WebM)"
        ) from exc
    with container:
        if container.format.name not in _ALLOWED_CONTAINERS or not container.streams.audio:
            raise AudioDecodeError(
                "unsupported_audio", f"no audio we can use in a {container.format.name} file"
            )
        resampler = av.AudioResampler(format="s16", layout="mono", rate=TARGET_RATE)
        max_bytes = int(max_seconds * TARGET_RATE) * 2
        out = bytearray()
        try:
            for frame in container.decode(container.streams.audio[0]):
                for converted in resampler.resample(frame):
                    out += bytes(converted.planes[0])[: converted.samples * 2]
                if len(out) > max_bytes:
                    raise AudioDecodeError("audio_too_long", f"audio is limited to {max_seconds:g} seconds")
            for converted in resampler.resample(None):
                out += bytes(converted.planes[0])[: converted.samples * 2]
        except av.error.FFmpegError as exc:
            raise AudioDecodeError("corrupt_audio", "the audio data is damaged") from exc
    if not out:
        raise AudioDecodeError("corrupt_audio", "the file holds no audio samples")
    if len(out) > max_bytes:
        raise AudioDecodeError("audio_too_long", f"audio is limited to {max_seconds:g} seconds")
    return bytes(out)
