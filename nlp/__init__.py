"""Transcript -> intent and entities. Imports no other zgvoice package."""

from nlp.intent import Intent, IntentName
from nlp.recognizer import Recognizer, RuleRecognizer
from nlp.text_input import TextInputError, clean_text, decode_text

__all__ = [
    "Intent",
    "IntentName",
    "Recognizer",
    "RuleRecognizer",
    "TextInputError",
    "clean_text",
    "decode_text",
]
