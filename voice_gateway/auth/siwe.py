"""Sign-In with Ethereum (EIP-4361): a strict parser and every check the standard asks of a server.

Our own implementation on eth-account (the `siwe` package conflicts with web3 8 and its grammar
parser is super-linear in the statement length). Sizes are capped before any parsing; the message
must have exactly the EIP-4361 layout, line by line, with LF line ends only. Each refusal carries a
stable reason code (`SiweError.code`) so tests and audit logs can tell them apart; the user only
ever sees a generic "sign-in failed".

Not here: the single-use nonce (consumed by the caller, atomically, before `verify_eoa`) and
contract-wallet signatures (EIP-1271, checked on the configured chain).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import to_checksum_address

MAX_MESSAGE_CHARS = 2048
MAX_STATEMENT_CHARS = 256
MAX_RESOURCES = 5
MAX_NONCE_CHARS = 64
MAX_SIGNATURE_CHARS = 2 + 2 * 4096
# ERC-6492 signatures (for not yet deployed smart wallets) end with this 32-byte magic value.
ERC6492_SUFFIX = "6492" * 16

_PREAMBLE = re.compile(
    r"^(?:(?P<scheme>[a-z][a-z0-9+.-]{0,15})://)?(?P<domain>[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?)"
    r" wants you to sign in with your Ethereum account:$"
)
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_NONCE = re.compile(r"^[A-Za-z0-9]{8,64}$")
_URI = re.compile(r"^[a-z][a-z0-9+.-]*:[^\s]{1,500}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$")
_OPTIONAL = (
    ("Expiration Time", "expiration_time"),
    ("Not Before", "not_before"),
    ("Request ID", "request_id"),
)


class SiweError(Exception):
    """A refused sign-in; `code` says why (stable), the message says it for logs."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class SiweMessage:
    """A parsed EIP-4361 message."""

    scheme: str | None
    domain: str
    address: str
    statement: str | None
    uri: str
    version: str
    chain_id: int
    nonce: str
    issued_at: datetime
    expiration_time: datetime | None = None
    not_before: datetime | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SiweExpectations:
    """What this deployment accepts; never taken from the request.

    Attributes:
        domain: the configured domain (host[:port]) users sign in to.
        scheme: the configured scheme ("https"; "http" for a loopback deployment).
        uri: the configured login URI.
        chain_ids: the chains a sign-in may name.
        max_age_s: how long ago `issued_at` may be.
        skew_s: how far in the future `issued_at` may be (clock skew).
        max_lifetime_s: the longest `expiration_time - issued_at` accepted.
        resources: the resources a message may list (empty: none).
    """

    domain: str
    scheme: str
    uri: str
    chain_ids: frozenset[int]
    max_age_s: float = 300.0
    skew_s: float = 30.0
    max_lifetime_s: float = 600.0
    resources: frozenset[str] = frozenset()


def _time(text: str, field: str) -> datetime:
    if not _TIME.fullmatch(text):
        raise SiweError("malformed_time", f"{field} is not an RFC 3339 date-time")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SiweError("malformed_time", f"{field} is not a valid date-time") from None


def _field(lines: list[str], index: int, label: str) -> str:
    if index >= len(lines) or not lines[index].startswith(f"{label}: "):
        raise SiweError("malformed", f"expected '{label}: ' on line {index + 1}")
    return lines[index][len(label) + 2 :]


def parse_siwe(text: str) -> SiweMessage:
    """Parse an EIP-4361 message strictly.

    Raises:
        SiweError: too_large, crlf, malformed, not_checksummed, statement_too_long, bad_nonce,
            malformed_time, too_many_resources.
    """
    if not isinstance(text, str) or len(text) > MAX_MESSAGE_CHARS:
        raise SiweError("too_large", f"a sign-in message is at most {MAX_MESSAGE_CHARS} characters")
    if "\r" in text or any(ord(c) < 0x20 and c != "\n" for c in text):
        raise SiweError("crlf", "a sign-in message has LF line ends and no other control characters")
    lines = text.split("\n")
    preamble = _PREAMBLE.fullmatch(lines[0])
    if preamble is None:
        raise SiweError("malformed", "the first line is not the EIP-4361 preamble")
    if len(lines) < 9 or not _ADDRESS.fullmatch(lines[1]):
        raise SiweError("malformed", "the second line must be the 0x address")
    if to_checksum_address(lines[1]) != lines[1]:
        raise SiweError("not_checksummed", "the address must be in its EIP-55 checksummed form")
    if lines[2] != "":
        raise SiweError("malformed", "an empty line must follow the address")
    index = 3
    statement = None
    if lines[3] != "":  # with a statement: statement, empty line; without: one empty line
        statement = lines[3]
        if len(statement) > MAX_STATEMENT_CHARS:
            raise SiweError(
                "statement_too_long", f"the statement is at most {MAX_STATEMENT_CHARS} characters"
            )
        index = 4
        if index >= len(lines) or lines[index] != "":
            raise SiweError("malformed", "an empty line must follow the statement")
    index += 1
    uri = _field(lines, index, "URI")
    version = _field(lines, index + 1, "Version")
    chain_text = _field(lines, index + 2, "Chain ID")
    nonce = _field(lines, index + 3, "Nonce")
    issued_at = _time(_field(lines, index + 4, "Issued At"), "Issued At")
    if not _URI.fullmatch(uri):
        raise SiweError("malformed", "the URI is not an absolute URI")
    if not chain_text.isdigit() or len(chain_text) > 16 or chain_text.startswith("0"):
        raise SiweError("malformed", "the chain id is a positive decimal integer")
    if len(nonce) > MAX_NONCE_CHARS or not _NONCE.fullmatch(nonce):
        raise SiweError("bad_nonce", "the nonce is 8 to 64 letters and digits")
    index += 5
    optional: dict[str, str] = {}
    for label, name in _OPTIONAL:
        if index < len(lines) and lines[index].startswith(f"{label}: "):
            optional[name] = lines[index][len(label) + 2 :]
            index += 1
    resources: list[str] = []
    if index < len(lines) and lines[index] == "Resources:":
        index += 1
        while index < len(lines) and lines[index].startswith("- "):
            resources.append(lines[index][2:])
            index += 1
            if len(resources) > MAX_RESOURCES:
                raise SiweError("too_many_resources", f"at most {MAX_RESOURCES} resources")
        if not resources or any(not _URI.fullmatch(r) for r in resources):
            raise SiweError("malformed", "resources are a non-empty list of URIs")
    if index != len(lines):
        raise SiweError("malformed", f"unexpected content on line {index + 1}")
    return SiweMessage(
        scheme=preamble.group("scheme"),
        domain=preamble.group("domain"),
        address=lines[1],
        statement=statement,
        uri=uri,
        version=version,
        chain_id=int(chain_text),
        nonce=nonce,
        issued_at=issued_at,
        expiration_time=_time(optional["expiration_time"], "Expiration Time")
        if "expiration_time" in optional
        else None,
        not_before=_time(optional["not_before"], "Not Before") if "not_before" in optional else None,
        request_id=optional.get("request_id"),
        resources=tuple(resources),
    )


def check_fields(message: SiweMessage, expect: SiweExpectations, now: datetime) -> None:
    """Every field against this deployment's expectations, at time `now`.

    Raises:
        SiweError: wrong_scheme, wrong_domain, wrong_uri, wrong_version, wrong_chain,
            issued_in_future, issued_too_long_ago, missing_expiration, lifetime_too_long, expired,
            not_yet_valid, resource_not_allowed.
    """
    if (message.scheme or "https") != expect.scheme:
        raise SiweError("wrong_scheme", "the message is for another scheme")
    if message.domain != expect.domain:
        raise SiweError("wrong_domain", "the message is for another domain")
    if message.uri != expect.uri:
        raise SiweError("wrong_uri", "the message is for another URI")
    if message.version != "1":
        raise SiweError("wrong_version", "only version 1 is supported")
    if message.chain_id not in expect.chain_ids:
        raise SiweError("wrong_chain", "the message names a chain this deployment does not serve")
    if message.issued_at > now + timedelta(seconds=expect.skew_s):
        raise SiweError("issued_in_future", "the message was issued in the future")
    if message.issued_at < now - timedelta(seconds=expect.max_age_s):
        raise SiweError("issued_too_long_ago", "the message was issued too long ago")
    if message.expiration_time is None:
        raise SiweError("missing_expiration", "an expiration time is required")
    if message.expiration_time - message.issued_at > timedelta(seconds=expect.max_lifetime_s):
        raise SiweError("lifetime_too_long", "the message is valid for too long")
    if now >= message.expiration_time:
        raise SiweError("expired", "the message has expired")
    if message.not_before is not None and now < message.not_before:
        raise SiweError("not_yet_valid", "the message is not valid yet")
    if any(resource not in expect.resources for resource in message.resources):
        raise SiweError("resource_not_allowed", "the message lists a resource this deployment does not grant")


def recover_eoa(text: str, signature: str) -> str:
    """The account that signed `text` with EIP-191 `personal_sign`.

    Raises:
        SiweError: bad_signature, erc6492_unsupported.
    """
    if not isinstance(signature, str) or len(signature) > MAX_SIGNATURE_CHARS:
        raise SiweError("bad_signature", "the signature is not 0x hex of a sane size")
    hex_part = signature[2:] if signature[:2].lower() == "0x" else signature
    if hex_part.lower().endswith(ERC6492_SUFFIX):
        raise SiweError("erc6492_unsupported", "undeployed smart wallets (ERC-6492) are not supported")
    try:
        raw = bytes.fromhex(hex_part)
    except ValueError:
        raise SiweError("bad_signature", "the signature is not hex") from None
    if len(raw) != 65:
        raise SiweError("bad_signature", "an account signature is 65 bytes")
    try:
        return str(Account.recover_message(encode_defunct(text=text), signature=raw))
    except Exception:  # eth-account raises several types for unusable signatures
        raise SiweError("bad_signature", "the signature does not recover an account") from None


def verify_eoa(
    text: str, signature: str, expect: SiweExpectations, now: datetime | None = None
) -> SiweMessage:
    """Parse, check every field, and check the signature of an account (EOA) sign-in.

    The caller consumes the message's nonce atomically first (a failed attempt burns it too).

    Raises:
        SiweError: any of the codes of `parse_siwe`, `check_fields`, `recover_eoa`, and
            signer_mismatch.
    """
    message = parse_siwe(text)
    check_fields(message, expect, now or datetime.now(UTC))
    if recover_eoa(text, signature) != message.address:
        raise SiweError("signer_mismatch", "the signature is not from the address in the message")
    return message
