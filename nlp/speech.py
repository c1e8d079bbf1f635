"""One normal form for what people say: lower case, numbers as digits, the native coin as `0g`,
common speech-recognition mishearings repaired, punctuation gone except where it carries meaning
(decimal points, file extensions, 0x values).

Both the intent rules and the slot extractors read this form, so a mishearing fixed here is fixed
for every intent at once.
"""

from __future__ import annotations

import re

from nlp.numbers import spoken_to_digits

_CONTRACTIONS = {
    "what's": "what is",
    "whats": "what is",
    "how's": "how is",
    "where's": "where is",
    "who's": "who is",
    "i'm": "i am",
    "we're": "we are",
    "it's": "it is",
    "that's": "that is",
    "don't": "do not",
    "didn't": "did not",
    "can't": "cannot",
    "let's": "let us",
    "i'd": "i would",
    "i've": "i have",
    "you're": "you are",
}

# Applied in order to the lower-cased, digit-normalized text. Each fixes what a recognizer writes
# for something our users say often.
_REPAIRS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        # The native coin: "0G" is heard as og, o g, oh gee, zero g, 0 g, zero gee, zerog ...
        (r"\b(?:0 ?g|zero ?g|zero gee|0 gee|o ?g|oh ?gee|oh g|ogee|zerog|0gs|ogs|zero gs)\b", "0g"),
        # "2.50G": a recognizer runs "two point five" into "0G". Splitting the zero off a decimal
        # never changes the amount (2.50 = 2.5), so it is safe to read as the coin's name.
        (r"\b(\d+\.\d*[1-9])0g\b", r"\1 0g"),
        (r"\b(\d+)\.0g\b", r"\1 0g"),
        (r"\bneurons\b", "neuron"),
        (r"\b(?:g wei|gee way|gway|gwe)\b", "gwei"),
        # "block" misheard, only where a block is plausible.
        (r"\b(?:black|blog|blocks|clock|lock|luck|vlog|log)\b(?= (?:number|height|count))", "block"),
        (
            r"\b(?:(?<=latest )|(?<=last )|(?<=current )|(?<=newest ))(?:black|blog|clock|lock|luck|vlog|log)\b",
            "block",
        ),
        (r"\b(?:black|blog|clock|lock|log|blocked)\b(?= (?:number )?\d)", "block"),
        (r"^(?:ok |okay |yes )?(?:firm|confirmed|conform)$", "confirm"),
        (r"\b(?:lock|log|black) ?chain\b", "blockchain"),
        (r"\b(?:usbc|usd c|u s d c|usd see)\b", "usdc"),
        (r"\b(?:u s d t|usd t)\b", "usdt"),
        # "dot" heard as "not"/"dut" before a common file extension.
        (
            r"(?<=\w) (?:not|dut|dat) (?=(?:pdf|txt|docx?|csv|json|png|jpe?g|md|mp3|mp4|wav|zip|xlsx|pptx)\b)",
            ".",
        ),
        (r"\bgas (?:prize|prizes|prices|praise)\b", "gas price"),
        (r"\btrans actions?\b", "transaction"),
        (r"\btransactions\b", "transaction"),
        (r"\b(?:tx|txn)\b", "transaction"),
        (r"\bbalanced\b", "balance"),
        # "sand 5 0g to bob": a recognizer's favourite for "send" before an amount or a name.
        (r"^(?:sand|cent|scent|sent)\b(?= (?:\d|to\b|half|a\b))", "send"),
        # "report dot pdf", "backup dot tar dot gz": a spoken file extension.
        (r"(?<=\w) dot (?=[a-z][a-z0-9]{0,4}\b)", "."),
    )
)
# Homophones and merges the recognizer writes for our command words, repaired in both forms (the
# light form keeps the user's content words as said, but "right down" is still "write down").
_COMMAND_REPAIRS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\b(?:right|rite|wright) (?=(?:it |this |that )?down\b)", "write "),
        (r"\bnote (?:the|of|too|two) self\b", "note to self"),
        (r"^debrief$", "be brief"),
    )
)


def _repair_commands(text: str) -> str:
    for pattern, replacement in _COMMAND_REPAIRS:
        text = pattern.sub(replacement, text)
    return text


# Punctuation that carries no meaning here; kept: apostrophes, and dots/colons inside tokens.
_NOISE = re.compile(r"[^\w\s'.:]|(?<!\w)[.:]|[.:](?!\w)")
_FILLERS = re.compile(r"\b(?:um+|uh+|erm|er|hmm+|uhm|like,)\b")


def speech_form(text: str) -> str:
    """The normal form of one utterance (see the module docstring)."""
    lowered = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    lowered = re.sub(r"(?<=\w)\.(?=\s|$)", " ", lowered)  # sentence-final periods
    lowered = re.sub(r"(?<=\d),(?=\d{3}\b)", "", lowered)  # thousands separators: 2,000
    words = [_CONTRACTIONS.get(word, word) for word in lowered.split()]
    joined = _NOISE.sub(" ", " ".join(words))
    joined = _FILLERS.sub(" ", joined)
    # Typed 0x values keep their case-insensitive form; digits conversion must not touch them.
    joined = spoken_to_digits(" ".join(joined.split()))
    joined = _repair_commands(joined)
    for pattern, replacement in _REPAIRS:
        joined = pattern.sub(replacement, joined)
    return " ".join(joined.split())


def light_form(text: str) -> str:
    """The user's own words for free-text slots (a note, a fact): lower case, fillers and edge
    punctuation gone, but numbers, contractions and coin names exactly as said."""
    lowered = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    lowered = re.sub(r"(?<=\w)\.(?=\s|$)", " ", lowered)
    joined = _NOISE.sub(" ", lowered)
    joined = _FILLERS.sub(" ", joined)
    return _repair_commands(" ".join(joined.split()))
