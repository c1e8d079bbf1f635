"""Speech-to-text adapters behind one interface."""

from voice_gateway.stt.base import SpeechToText, SttError
from voice_gateway.stt.whisper import WhisperSTT

__all__ = ["SpeechToText", "SttError", "WhisperSTT"]
