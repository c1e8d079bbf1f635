"""Audio containers and conversions."""

from voice_gateway.audio.clip import AudioClip, write_wav

__all__ = ["AudioClip", "write_wav"]
