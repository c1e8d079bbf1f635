"""Wallet sign-in and sessions for the gateway: nonces, EIP-4361 verification, tokens, WS tickets.

The routes (`/v1/auth/*`, the WebSocket upgrade) are thin wrappers around `AuthService`. Order in
`verify` matters: sizes are capped before parsing; the nonce is consumed (atomically, `take`) right
after parsing and before any other check, so a failed attempt burns it and of many concurrent
attempts with one signed message at most one can succeed; the signature is checked last. Replay
protection rests on the nonce and never on signature bytes (ECDSA signatures are malleable).

Every refusal is an `AuthError` with a stable `code` for logs and tests; its text is the same
generic "authentication failed" for all, so callers cannot probe which check failed.

Session version: `revoke_user` writes the revocation time (ms) as the address's session version;
sessions and tickets carrying an older version are dead. A time rather than a counter because the
store's records expire, and a counter that expired and started again at 1 would revive old sessions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import string
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import anyio
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from voice_gateway.auth.contract_wallet import ContractSignatureChecker, ContractWalletError
from voice_gateway.auth.refresh import RefreshGrant, RefreshPolicy, RefreshRejected, RefreshTokens
from voice_gateway.auth.session_store import SessionStore
from voice_gateway.auth.siwe import (
    ERC6492_SUFFIX,
    MAX_MESSAGE_CHARS,
    MAX_SIGNATURE_CHARS,
    SiweError,
    SiweExpectations,
    SiweMessage,
    check_fields,
    parse_siwe,
    recover_eoa,
)
from voice_gateway.auth.tokens import (
    DEFAULT_AUDIENCES,
    AccessClaims,
    AccessGrant,
    AccessTokens,
    SigningKeys,
    TokenRejected,
)

log = logging.getLogger(__name__)

NONCE_ALPHABET: Final = string.ascii_letters + string.digits
NONCE_CHARS: Final = 24  # 24 * log2(62) = 142.9 bits
# Records outlive their TTL by this much so that a late nonce or ticket is logged as expired rather
# than unknown; the TTL itself is enforced by comparing the recorded deadline with the clock.
_LATE_MARGIN_S: Final = 60.0
_HEX: Final = re.compile(r"(?:[0-9a-fA-F]{2})*")
_TICKET: Final = re.compile(r"[A-Za-z0-9_-]{22}")


class AuthError(Exception):
    """A refused sign-in, refresh, token or ticket. `code` says why; the text is always generic."""

    def __init__(self, code: str) -> None:
        super().__init__("authentication failed")
        self.code = code


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    """Deployment settings beyond the SIWE expectations.

    Attributes:
        issuer: `iss` of the access tokens.
        access_ttl_s: access-token lifetime (at most 600 s).
        audiences: the services tokens can be minted for.
        nonce_ttl_s: how long an issued nonce can be used.
        ticket_ttl_s: how long a WebSocket ticket can be redeemed.
        allowed_origins: browser Origins that may sign in and open sockets; empty means only
            "<scheme>://<domain>" of the SIWE expectations.
        contract_session_s: absolute session lifetime for contract wallets, whose approval can
            change on chain after sign-in.
        parse_timeout_s: deadline for parsing a message in a worker thread.
        refresh: refresh-token family lifetimes.
    """

    issuer: str = "zgvoice-gateway"
    access_ttl_s: int = 300
    audiences: frozenset[str] = DEFAULT_AUDIENCES
    nonce_ttl_s: float = 300.0
    ticket_ttl_s: float = 30.0
    allowed_origins: frozenset[str] = frozenset()
    contract_session_s: float = 3600.0
    parse_timeout_s: float = 1.0
    refresh: RefreshPolicy = field(default_factory=RefreshPolicy)


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in session: what `verify` and `refresh` hand to the client."""

    address: str
    role: str
    session_id: str
    wallet: str  # "eoa" or "contract"
    access_token: str = field(repr=False)
    access_expires_at: int
    refresh_token: str = field(repr=False)
    refresh_expires_at: float


@dataclass(frozen=True, slots=True)
class WsGrant:
    """Who a redeemed WebSocket ticket lets in; the socket re-checks it with `check_session`."""

    address: str
    role: str
    session_id: str
    session_version: int
    origin: str


class AuthService:
    """Sign-in with Ethereum, access and refresh tokens, revocation and WebSocket tickets.

    Args:
        store: the `SessionStore` (in-process or Redis).
        signer_keys: the access-token keyring.
        expectations: what sign-in messages must say (from configuration, never the request).
        admin_addresses: wallets that get the "admin" role.
        contract_checker: EIP-1271 checks on the configured chain; None refuses contract wallets.
        clock: Unix seconds.
        policy: lifetimes, origins and audiences.

    Raises:
        ValueError: an admin address that is not an address.
    """

    def __init__(
        self,
        store: SessionStore,
        signer_keys: SigningKeys,
        expectations: SiweExpectations,
        admin_addresses: Iterable[str],
        contract_checker: ContractSignatureChecker | None = None,
        clock: Callable[[], float] = time.time,
        *,
        policy: AuthPolicy | None = None,
    ) -> None:
        self.policy = policy or AuthPolicy()
        self._store = store
        self._expect = expectations
        self._admins = frozenset(to_checksum_address(address) for address in admin_addresses)
        self._checker = contract_checker
        self._clock = clock
        self._origins = self.policy.allowed_origins or frozenset(
            {f"{expectations.scheme}://{expectations.domain}"}
        )
        self.tokens = AccessTokens(
            signer_keys,
            self.policy.issuer,
            ttl_s=self.policy.access_ttl_s,
            clock=clock,
            audiences=self.policy.audiences,
        )
        self.refresh_tokens = RefreshTokens(store, clock, self.policy.refresh)

    # --- sign-in -----------------------------------------------------------------------------------

    async def issue_nonce(self, origin: str | None = None) -> str:
        """A fresh single-use nonce: 24 letters and digits (~143 bits), valid for `nonce_ttl_s`.

        Args:
            origin: the requesting page's Origin; when given, only a sign-in from it may use the nonce.

        Raises:
            AuthError: wrong_origin.
        """
        if origin is not None and origin not in self._origins:
            raise _refused("wrong_origin")
        nonce = "".join(secrets.choice(NONCE_ALPHABET) for _ in range(NONCE_CHARS))
        record = _dump({"o": origin or "", "exp": self._clock() + self.policy.nonce_ttl_s})
        if not await self._store.put_new(f"nonce:{nonce}", record, self.policy.nonce_ttl_s + _LATE_MARGIN_S):
            raise RuntimeError("a 143-bit nonce collided: the random source is broken")
        return nonce

    async def verify(
        self, message_text: str, signature: str, origin: str, *, audience: str = "gateway"
    ) -> Session:
        """Verify a signed EIP-4361 message and start a session.

        Args:
            message_text: the message exactly as the wallet signed it.
            signature: 0x hex; 65 bytes for an account, anything a contract wallet accepts otherwise.
            origin: the request's Origin header.
            audience: the service the first access token is for.

        Raises:
            AuthError: too_large, signature_too_large, malformed, parse_timeout, any `parse_siwe` or
                `check_fields` code, unknown_nonce, nonce_replayed, nonce_expired,
                nonce_origin_mismatch, wrong_origin, erc6492_unsupported, bad_signature,
                signer_mismatch, contract_signature_invalid, wrong_chain_for_contract,
                contract_check_unavailable, not_admin.
        """
        try:
            message = await self._parse(message_text, signature)
            await self._consume_nonce(message.nonce, origin)
            if origin not in self._origins:
                raise _refused("wrong_origin")
            check_fields(message, self._expect, datetime.fromtimestamp(self._clock(), UTC))
            wallet = await self._check_signature(message, message_text, signature)
        except SiweError as exc:
            raise _refused(exc.code) from None
        return await self._start_session(message.address, wallet, audience)

    async def _parse(self, text: str, signature: str) -> SiweMessage:
        if not isinstance(text, str) or not isinstance(signature, str):
            raise _refused("malformed")
        # Checked before any parsing, the character count first so a huge text is never encoded.
        if len(text) > MAX_MESSAGE_CHARS or len(text.encode()) > MAX_MESSAGE_CHARS:
            raise _refused("too_large")
        if len(signature) > MAX_SIGNATURE_CHARS:
            raise _refused("signature_too_large")
        try:
            # Off the event loop, with a deadline: a parser bug must not stall every connection.
            with anyio.fail_after(self.policy.parse_timeout_s):
                return await anyio.to_thread.run_sync(parse_siwe, text, abandon_on_cancel=True)
        except TimeoutError:
            raise _refused("parse_timeout") from None

    async def _consume_nonce(self, nonce: str, origin: str) -> None:
        raw = await self._store.take(f"nonce:{nonce}")
        if raw is None:
            if await self._store.get(f"nonce-used:{nonce}") is not None:
                raise _refused("nonce_replayed")
            raise _refused("unknown_nonce")
        # Only for telling a replay apart from an unknown nonce in the logs; `take` is the guard.
        await self._store.put(f"nonce-used:{nonce}", b"1", self.policy.nonce_ttl_s + _LATE_MARGIN_S)
        record = _load(raw)
        if self._clock() >= float(record["exp"]):
            raise _refused("nonce_expired")
        if record["o"] and record["o"] != origin:
            raise _refused("nonce_origin_mismatch")

    async def _check_signature(self, message: SiweMessage, text: str, signature: str) -> str:
        hex_part = signature[2:] if signature[:2] in ("0x", "0X") else signature
        if hex_part.lower().endswith(ERC6492_SUFFIX):
            raise _refused("erc6492_unsupported")
        if not _HEX.fullmatch(hex_part):
            raise _refused("bad_signature")
        raw = bytes.fromhex(hex_part)
        recovered: str | None = None
        if len(raw) == 65:
            try:
                recovered = recover_eoa(text, signature)
            except SiweError:
                recovered = None  # e.g. a high-s signature: a contract wallet may still accept it
        if recovered == message.address:
            return "eoa"
        if self._checker is None:
            raise _refused("signer_mismatch" if recovered is not None else "bad_signature")
        data = text.encode()
        digest = keccak(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data)
        try:
            verdict = await self._checker.check(message.chain_id, message.address, digest, raw)
        except ContractWalletError as exc:
            raise _refused(exc.code) from None
        if verdict == "no_answer":  # not a contract wallet: an account whose signature did not match
            raise _refused("signer_mismatch" if recovered is not None else "bad_signature")
        if verdict != "valid":
            raise _refused("contract_signature_invalid")
        return "contract"

    async def _start_session(self, address: str, wallet: str, audience: str) -> Session:
        role = self._role(address)
        self._check_audience(audience, role)
        version = await self.session_version(address)
        lifetime = self.policy.contract_session_s if wallet == "contract" else None
        grant = await self.refresh_tokens.start(address, role, version, kind=wallet, absolute_s=lifetime)
        access = self.tokens.mint(address, audience, role, version, grant.family_id)
        return _session(grant, access, role)

    # --- refresh, logout, revocation --------------------------------------------------------------

    async def refresh(self, refresh_token: str, *, audience: str = "gateway") -> Session:
        """Rotate a refresh token: a new access token and a new refresh token.

        Raises:
            AuthError: any `RefreshTokens.rotate` code, user_revoked, not_admin.
        """
        try:
            grant = await self.refresh_tokens.rotate(refresh_token)
        except RefreshRejected as exc:
            raise _refused(exc.code) from None
        if grant.session_version < await self.session_version(grant.address):
            await self.refresh_tokens.revoke_family(grant.family_id)
            raise _refused("user_revoked")
        role = self._role(grant.address)  # the admin list may have changed since sign-in
        self._check_audience(audience, role)
        access = self.tokens.mint(grant.address, audience, role, grant.session_version, grant.family_id)
        return _session(grant, access, role)

    async def logout(self, *, refresh_token: str | None = None, session: AccessClaims | None = None) -> bool:
        """End one session, named by its refresh token or by the claims of one of its access tokens.

        Returns:
            True when the token or claims named a session, now ended; False for an unknown token
            (logging out twice is not an error).

        Raises:
            ValueError: not exactly one of `refresh_token` and `session`.
            AuthError: malformed_refresh.
        """
        if (refresh_token is None) == (session is None):
            raise ValueError("pass exactly one of refresh_token and session")
        if session is not None:
            return await self.refresh_tokens.revoke_family(session.sid)
        try:
            return await self.refresh_tokens.revoke_token(str(refresh_token)) is not None
        except RefreshRejected as exc:
            raise _refused(exc.code) from None

    async def revoke_user(self, address: str) -> int:
        """End every session of `address`: access tokens, refresh families and open sockets.

        Returns:
            The new session version.

        Raises:
            ValueError: not an address.
        """
        address = to_checksum_address(address)
        version = max(int(self._clock() * 1000), await self.session_version(address) + 1)
        # Kept as long as any session that predates it could live; then no such session is left.
        await self._store.put(f"sv:{address}", str(version).encode(), self.policy.refresh.absolute_s)
        log.info("all sessions of an address revoked")
        return version

    async def session_version(self, address: str) -> int:
        """The current session version of `address` (0 until it is first revoked)."""
        raw = await self._store.get(f"sv:{address}")
        return int(raw) if raw is not None else 0

    async def check_access(self, token: str, audience: str) -> AccessClaims:
        """Verify an access token for `audience` and that its session is still live.

        Raises:
            AuthError: token_<code> for any `TokenRejected` code, user_revoked, session_ended,
                not_admin.
        """
        try:
            claims = self.tokens.verify_access(token, audience)
        except TokenRejected as exc:
            raise _refused(f"token_{exc.code}") from None
        if audience == "admin" and (claims.role != "admin" or claims.sub not in self._admins):
            raise _refused("not_admin")
        await self.check_session(claims.sub, claims.sid, claims.sv)
        return claims

    async def check_session(self, address: str, session_id: str, session_version: int) -> None:
        """Whether a session is still live; sockets call this for every batch of messages.

        Raises:
            AuthError: user_revoked (revoke_user since), session_ended (logout, reuse, expiry).
        """
        if session_version < await self.session_version(address):
            raise _refused("user_revoked")
        if not await self.refresh_tokens.family_live(session_id):
            raise _refused("session_ended")

    # --- WebSocket tickets -------------------------------------------------------------------------

    async def issue_ws_ticket(self, access_claims: AccessClaims, origin: str) -> str:
        """A one-time ticket (128 bits) for opening a WebSocket from `origin`, valid `ticket_ttl_s`.

        Args:
            access_claims: from `check_access` on the request asking for the ticket.
            origin: that request's Origin; the upgrade must come from the same one.

        Raises:
            AuthError: wrong_origin, user_revoked, session_ended.
        """
        if origin not in self._origins:
            raise _refused("wrong_origin")
        claims = access_claims
        await self.check_session(claims.sub, claims.sid, claims.sv)
        ticket = secrets.token_urlsafe(16)
        record = {
            "a": claims.sub,
            "r": claims.role,
            "s": claims.sid,
            "v": claims.sv,
            "o": origin,
            "exp": self._clock() + self.policy.ticket_ttl_s,
        }
        key = f"ticket:{hashlib.sha256(ticket.encode()).hexdigest()}"
        await self._store.put(key, _dump(record), self.policy.ticket_ttl_s + _LATE_MARGIN_S)
        return ticket

    async def redeem_ws_ticket(self, ticket: str, origin: str) -> WsGrant:
        """Redeem a ticket on the WebSocket upgrade (once: the first redemption deletes it).

        Raises:
            AuthError: malformed_ticket, unknown_ticket, ticket_expired, ticket_wrong_origin,
                user_revoked, session_ended.
        """
        if not isinstance(ticket, str) or not _TICKET.fullmatch(ticket):
            raise _refused("malformed_ticket")
        raw = await self._store.take(f"ticket:{hashlib.sha256(ticket.encode()).hexdigest()}")
        if raw is None:
            raise _refused("unknown_ticket")
        record = _load(raw)
        if self._clock() >= float(record["exp"]):
            raise _refused("ticket_expired")
        if origin != record["o"]:
            raise _refused("ticket_wrong_origin")
        await self.check_session(str(record["a"]), str(record["s"]), int(record["v"]))
        return WsGrant(str(record["a"]), str(record["r"]), str(record["s"]), int(record["v"]), origin)

    # --- helpers -----------------------------------------------------------------------------------

    def _role(self, address: str) -> str:
        return "admin" if address in self._admins else "user"

    def _check_audience(self, audience: str, role: str) -> None:
        if audience not in self.policy.audiences:
            raise ValueError(f"unknown audience {audience!r}")
        if audience == "admin" and role != "admin":
            raise _refused("not_admin")


def _refused(code: str) -> AuthError:
    # The code only: never the message, signature or token that was refused. A reused refresh
    # token means a copy exists somewhere: worth an operator's attention.
    log.log(logging.WARNING if code == "refresh_reused" else logging.INFO, "auth refused: %s", code)
    return AuthError(code)


def _session(grant: RefreshGrant, access: AccessGrant, role: str) -> Session:
    return Session(
        address=grant.address,
        role=role,
        session_id=grant.family_id,
        wallet=grant.kind,
        access_token=access.token,
        access_expires_at=access.claims.exp,
        refresh_token=grant.token,
        refresh_expires_at=grant.expires_at,
    )


def _dump(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _load(raw: bytes) -> dict[str, Any]:
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("a session record is a JSON object")
    return value
