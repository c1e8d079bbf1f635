"""Text-to-speech adapters behind one interface."""

from voice_gateway.tts.base import TextToSpeech
from voice_gateway.tts.piper_tts import PiperTTS

__all__ = ["PiperTTS", "TextToSpeech"]
