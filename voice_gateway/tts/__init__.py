"""Text-to-speech adapters behind one interface, with a cache and failover around them."""

from voice_gateway.tts.base import TextToSpeech, TtsError
from voice_gateway.tts.cache import AudioCache, CachedTTS
from voice_gateway.tts.espeak import EspeakTTS
from voice_gateway.tts.fallback import FallbackTTS
from voice_gateway.tts.piper_tts import PiperTTS
from voice_gateway.tts.sentences import SentenceStream, split_sentences

__all__ = [
    "AudioCache",
    "CachedTTS",
    "EspeakTTS",
    "FallbackTTS",
    "PiperTTS",
    "SentenceStream",
    "TextToSpeech",
    "TtsError",
    "split_sentences",
]
