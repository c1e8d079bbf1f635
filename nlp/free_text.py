"""Slots that are the user's own words: a dictated note, a fact to remember, a persona, a reply mode.

The finders read the light form (`nlp.speech.light_form`), so the content keeps the words as said
("hunter two", "i'm"). Each strips the command words around the content ("store a note saying ...
on 0g") and returns it lower-case without final punctuation, or None when there is none.
"""

from __future__ import annotations

import re

# Where a note goes, said before or after its content: "on 0g", "to zero g storage", "on storage".
_PLACE = r"(?:on|to|in|into|onto) (?:the |my )?(?:0g|og|oh gee|oh g|zero g|zero gee|0 g|chain|storage|network|cloud)(?: storage| network)?"
_TRAILING = re.compile(
    rf"(?:\s+{_PLACE}|\s+please|\s+thanks|\s+thank you|\s+for me|\s+okay|\s+ok|\s+from now on)+$"
)
_LEADING = re.compile(rf"^(?:{_PLACE}\s+|that\s+|saying\s+|:\s*)+")


def _content(text: str | None) -> str | None:
    if text is None:
        return None
    cleaned = text.strip(" .,:;!?'\"")
    cleaned = _LEADING.sub("", cleaned)
    cleaned = _TRAILING.sub("", cleaned).strip(" .,:;!?'\"")
    return cleaned or None


_NOTE = (
    re.compile(
        r"\b(?:saying|that says|which says|that reads|which reads|reading|to say|with the text)\s+(.+)"
    ),
    re.compile(r"\bnote to self:?\s+(.+)"),
    re.compile(r"\b(?:write|jot|note|put|take|get) (?:this |it |that )?down:?\s+(.+)"),
    re.compile(
        r"\b(?:store|save|keep|take|make|leave|add|create|write|record|put|new|start) (?:a |me a |myself a |this |the |new |another )*"
        r"(?:quick |short |new |little )?(?:note|memo)s?:?\s+(.+)"
    ),
    re.compile(r"^(?:new )?(?:note|memo):?\s+(.+)"),
)


def find_note(light: str) -> str | None:
    """The dictated text of a note ("store a note saying buy milk" -> "buy milk")."""
    for pattern in _NOTE:
        match = pattern.search(light)
        if match:
            content = _content(match.group(1))
            if content:
                return content
    return None


_LEAD_IN = re.compile(r"^(?:just so you know|fyi|for your information|by the way|btw|heads up)\s+")
_FACT = (
    re.compile(r"^(.+?)\s+(?:please )?(?:remember that|remember this|keep that in mind|don't forget that)$"),
    re.compile(
        r"\b(?:remember|keep in mind|don't forget|do not forget|never forget|make a (?:mental )?note|note) (?:that|this:?)\s+(.+)"
    ),
    re.compile(r"\bremember (?!to\b)((?:i|i'm|i've|i'd|my|we|we're|our|me)\b.+)"),
    re.compile(r"\bfor (?:the|future) record,? (.+)"),
    re.compile(r"\bremember:? (.+)"),
)


def find_fact(light: str) -> str | None:
    """What to remember ("remember that my dog is rex" -> "my dog is rex")."""
    for pattern in _FACT:
        match = pattern.search(light)
        if match:
            return _content(_LEAD_IN.sub("", match.group(1)))
    return None


_PERSONA = (
    re.compile(r"\b(?:talk|speak|sound|answer|reply|respond|act|behave|write) (?:to me )?(?:like|as) (.+)"),
    re.compile(r"\bpretend (?:to be|you are|you're) (.+)"),
    re.compile(
        r"\b(?:use|switch to|change to|adopt) (?:a |an )?([a-z' ]+?) (?:voice|tone|style|persona|personality)\b"
    ),
    re.compile(r"^(?:from now on|from here on|always|going forward),? (.+)"),
    re.compile(r"\b(?:you are|you're) (?:now )?(.+)"),
    re.compile(r"\b(?:be|become) (?:more )?(.+)"),
    re.compile(r"\b(call me .+)"),
)


def find_persona(light: str) -> str | None:
    """The requested style ("talk like a pirate" -> "a pirate")."""
    for pattern in _PERSONA:
        match = pattern.search(light)
        if match:
            return _content(match.group(1))
    return None


_SHORT = re.compile(
    r"\b(?:short|shorter|brief|briefer|briefly|concise|terse|quick|quicker|less detail|fewer words|less talk|"
    r"talk less|say less|keep it simple|to the point|summar\w*|tl ?dr|just the (?:number|answer|facts))"
)
_DETAILED = re.compile(
    r"\b(?:detailed|detail|details|longer|verbose|elaborate|more information|more info|explain more|"
    r"in depth|more depth|depth|full|fuller|everything|thorough|thoroughly|long answers?)\b"
)


def find_mode(light: str) -> str | None:
    """ "short" or "detailed" from a reply-mode request."""
    if re.search(r"\bless (?:short|brief|terse)\b", light):
        return "detailed"
    if re.search(r"\bless (?:detail|verbose|wordy|long)\b", light):
        return "short"
    if _SHORT.search(light):
        return "short"
    if _DETAILED.search(light):
        return "detailed"
    return None
