"""Slot finders over the speech form (`nlp.speech.speech_form`), each returning canonical values
(docs/intents.md): amounts as decimal strings, the native coin as "0G", addresses EIP-55, names
lower-case, file names with their extension."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from eth_utils.address import to_checksum_address

from nlp.numbers import canonical_decimal


def _words(*lines: str) -> frozenset[str]:
    return frozenset(word for line in lines for word in line.split())


_TYPED_ADDRESS = re.compile(r"\b0x[0-9a-zA-Z]+\b")
_TX_HASH = re.compile(r"\b0x[0-9a-f]{64}\b")
# A spelled address after "0 x": digits (possibly merged into numbers) and hex letters as words.
_SPELLED_START = re.compile(r"\b0 ?x\b")
_HEX_WORDS = {
    "a": "a",
    "ay": "a",
    "b": "b",
    "be": "b",
    "bee": "b",
    "c": "c",
    "see": "c",
    "sea": "c",
    "cee": "c",
    "d": "d",
    "dee": "d",
    "e": "e",
    "f": "f",
    "ef": "f",
    "eff": "f",
}

# Words that are never a person's name where a name could stand.
STOPWORDS = _words(
    "a an the my me mine i you your our us we it its this that these those to of for and or",
    "each every all some any please now then there here him her them his hers their who what",
    "which whose someone somebody anyone everyone is are was be do does did have has had can",
    "could would should will shall may might must not no yes ok okay hey so just also too again",
    "same own one send give pay transfer tip move address wallet account balance money funds",
    "tokens token coins much many how with from on in at by about as via using back out up down",
    "off over",
)

# Words after "to"/"send" that are not recipients.
_NOT_NAMES = frozenset(
    {"0g", "him", "her", "them", "it", "storage", "chain", "network", "like", "each", "apiece"}
)
KNOWN_TOKENS = frozenset({"usdc", "usdt", "weth", "wbtc", "dai", "eth", "btc", "link", "uni", "wzg"})
_SUB_UNITS = {"neuron": "neuron", "gwei": "gwei"}
_AMOUNT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?![\w.])(?: (0g|neuron|gwei|[a-z]{2,6}))?")


def checksum(address: str) -> str | None:
    """The EIP-55 form of a 0x + 40 hex address, or None if it is not one. A mixed-case address
    with a wrong checksum is refused (None): it was typed wrong, not misheard."""
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", address):
        return None
    body = address[2:]
    if body != body.lower() and body != body.upper():
        expected = to_checksum_address(address.lower())
        return expected if expected == address else None
    return str(to_checksum_address(address.lower()))


def find_address(original: str, spoken: str) -> str | None:
    """The first address: typed in `original` (canonical when valid, as typed when malformed, so
    the user hears it is wrong), else spelled out in the speech form `spoken`."""
    typed = [m.group(0) for m in _TYPED_ADDRESS.finditer(original) if len(m.group(0)) != 66]
    for candidate in typed:
        valid = checksum(candidate)
        if valid is not None:
            return valid
    spelled = find_spelled_address(spoken)
    if spelled is not None:
        return spelled
    return typed[0] if typed else None


def find_spelled_address(spoken: str) -> str | None:
    """An address said character by character ("zero x seven zero nine ..."), EIP-55, or None."""
    for start in _SPELLED_START.finditer(spoken):
        hex_chars = ""
        for word in spoken[start.end() :].split():
            if word.isdigit():
                hex_chars += word
            elif word in _HEX_WORDS:
                hex_chars += _HEX_WORDS[word]
            elif re.fullmatch(r"[0-9a-f]+", word):
                hex_chars += word
            else:
                break
            if len(hex_chars) >= 40:
                break
        if len(hex_chars) == 40:
            return str(to_checksum_address("0x" + hex_chars))
    return None


def find_tx_hash(original: str) -> str | None:
    """A 0x + 64 hex transaction hash, lower-case."""
    match = _TX_HASH.search(original.lower())
    return match.group(0) if match else None


@dataclass(frozen=True, slots=True)
class Amount:
    """An amount as said: canonical decimal text, the asset ("0G", a symbol) and a sub-unit if any."""

    value: str
    asset: str = "0G"
    unit: str | None = None


def find_amount(spoken: str) -> Amount | None:
    """The amount to move: the first number that is not part of an address, a hash or a block."""
    for match in _AMOUNT.finditer(spoken):
        before = spoken[: match.start()].split()[-2:]
        if before and before[-1] in ("block", "x", "number"):
            continue
        try:
            value = canonical_decimal(Decimal(match.group(1)))
        except (InvalidOperation, ValueError):
            continue
        word = match.group(2)
        after = spoken[match.end() :].split()[:1]
        if word == "0g" or word is None:
            return Amount(value)
        if word in _SUB_UNITS:
            return Amount(value, "0G", _SUB_UNITS[word])
        if word in KNOWN_TOKENS or (word not in STOPWORDS and after[:1] in (["to"], ["for"], ["each"])):
            return Amount(value, word.upper())
        return Amount(value)
    return None


# A list of two or more names: "alice and bob", "carol dave and erin", "grace, heidi and ivan".
_NAME_LIST = r"([a-z]+(?:,? [a-z]+)*,? (?:and|&) [a-z]+)"
_RECIPIENT_LISTS = (
    re.compile(rf"\b(?:to|for|between) (?:each of |all of |both )?{_NAME_LIST}\b"),
    re.compile(rf"\b(?:send|give|pay|tip|transfer|wire) {_NAME_LIST}\b"),
    re.compile(rf"\beach of {_NAME_LIST}\b"),
    re.compile(rf"^{_NAME_LIST} (?:should|each|will|can|must)\b"),
)
_RECIPIENT = re.compile(r"\bto (?:my (?:friend |buddy |pal |brother |sister )?)?([a-z]+)\b")
_GIVE_NAME = re.compile(r"\b(?:send|give|pay|tip|transfer|wire|owe|reimburse|refund) (?:back )?([a-z]+)\b")


def _name(word: str) -> str | None:
    if word in STOPWORDS or word in KNOWN_TOKENS or word in _NOT_NAMES or len(word) < 2:
        return None
    return word


def _names(listed: str) -> list[str] | None:
    words = [w for w in re.split(r",? (?:and|&) |, | ", listed) if w]
    names = [_name(w) for w in words]
    return [n for n in names if n is not None] if len(names) > 1 and all(names) else None


def find_recipients(spoken: str) -> list[str]:
    """The names value is sent to, in the order said ("to alice and bob" -> [alice, bob])."""
    for pattern in _RECIPIENT_LISTS:
        for match in pattern.finditer(spoken):
            names = _names(match.group(1))
            if names:
                return names
    for pattern in (_RECIPIENT, _GIVE_NAME):
        for match in pattern.finditer(spoken):
            name = _name(match.group(1))
            if name is not None:
                return [name]
    return []


_OWNER_PATTERNS = (
    re.compile(r"\b([a-z]+)'s (?:[a-z0-9]+ )?(?:balance|wallet|account|address|funds|holdings)"),
    re.compile(
        r"\b(?:balance|wallet|account|holdings|funds) (?:of|for) (?:my (?:friend|buddy|pal) )?([a-z]+)\b"
    ),
    re.compile(r"\bhow (?:much|many) (?:[a-z0-9]+ )?(?:does|has|did) ([a-z]+)\b"),
    re.compile(r"\bhow much (?:[a-z0-9]+ )?([a-z]+) (?:has|holds|owns|got)\b"),
    re.compile(r"\b(?:does|did|has) ([a-z]+) (?:have|hold|own|got)\b"),
    re.compile(r"\bwhat (?:does|is) ([a-z]+) (?:have|hold|own|holding|got)\b"),
    re.compile(r"\bwhat is ([a-z]+?)s (?:balance|wallet)\b"),
    re.compile(r"\b(?:check|show|get) ([a-z]+)'s\b"),
    re.compile(r"\bwhat about ([a-z]+)\b"),
)


def find_owner(spoken: str) -> str | None:
    """A person asked about instead of the speaker ("alice's balance"), lower-case, or None."""
    for pattern in _OWNER_PATTERNS:
        match = pattern.search(spoken)
        if match:
            name = _name(match.group(1))
            if name is not None:
                return name
    return None


def find_token(spoken: str) -> str | None:
    """A token symbol named in a balance question ("my usdc balance"), upper-case, or None."""
    for word in spoken.split():
        if word in KNOWN_TOKENS:
            return word.upper()
    return None


_BLOCK_NUMBER = re.compile(r"\bblock (?:number |no |height |#)?(\d+)\b|\b(\d+)(?:st|nd|rd|th)? block\b")


def find_block(spoken: str) -> int | str:
    """A block number said with "block", 0 for the genesis block, or "latest"."""
    match = _BLOCK_NUMBER.search(spoken)
    if match:
        return int(match.group(1) or match.group(2))
    return 0 if "genesis" in spoken else "latest"


_FILE_TYPED = re.compile(r"\b([\w-]+(?: [\w-]+){0,3})\.([a-z][a-z0-9]{0,4}(?:\.[a-z0-9]{1,4})?)\b")
_FILE_BOUNDARY = _words(
    "store save upload put keep back up fetch get download open read show load retrieve",
    "pull grab bring find play the my a an file files document doc called named titled on to",
    "from in into of please can could would you i me and 0g storage network up this that",
    "send push archive copy contents content want to with",
)


_LEADING_VERBS = frozenset(
    {"backup", "archive", "upload", "store", "save", "push", "fetch", "download", "open", "read"}
)


def find_file_name(spoken: str) -> str | None:
    """A file name with its extension ("meeting notes.txt"); name words stop at command words."""
    for match in _FILE_TYPED.finditer(spoken):
        words = match.group(1).split()
        kept: list[str] = []
        for word in reversed(words):
            # The word right before the extension is the name, even if it could be a verb ("archive").
            if kept and word in _FILE_BOUNDARY:
                break
            kept.insert(0, word)
        # A command said without a pause before the name ("backup budget.xlsx"): the verb goes.
        if len(kept) > 1 and kept[0] in _LEADING_VERBS and match.start() == 0:
            kept = kept[1:]
        if kept and not match.group(2).isdigit():
            return f"{' '.join(kept)}.{_extension(match.group(2))}"
    return None


KNOWN_EXTENSIONS = frozenset(
    [
        "pdf",
        "txt",
        "doc",
        "docx",
        "csv",
        "json",
        "png",
        "jpg",
        "jpeg",
        "gif",
        "md",
        "mp3",
        "mp4",
        "wav",
        "zip",
        "xlsx",
        "xls",
        "pptx",
        "ppt",
        "odt",
        "html",
        "gz",
        "tar",
    ]
)


def _extension(heard: str) -> str:
    """The extension as meant: without the coin's name run onto it ("photo.jpg.0g", from "photo.jpg
    on 0G"), and an unknown three-letter extension one sound away from exactly one common one
    ("kpg") taken as that one."""
    heard = heard.removesuffix(".0g")
    if heard in KNOWN_EXTENSIONS or "." in heard:
        return heard
    near = [
        known
        for known in KNOWN_EXTENSIONS
        if len(known) == len(heard) and sum(a != b for a, b in zip(known, heard, strict=True)) == 1
    ]
    return near[0] if len(near) == 1 else heard
