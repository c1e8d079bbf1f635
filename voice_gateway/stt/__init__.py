"""Speech-to-text adapters behind one interface."""

from voice_gateway.stt.base import DOMAIN_VOCABULARY, Alternative, SpeechToText, SttError
from voice_gateway.stt.whisper import WhisperSTT

__all__ = ["DOMAIN_VOCABULARY", "Alternative", "SpeechToText", "SttError", "WhisperSTT"]
