"""Sign-in on the turn routes: bearer tokens on `POST /v1/ask` and `/v1/voice/query`, one-time tickets on
the voice WebSocket, and the revocation watch of an open socket.

Only in use when sign-in is enabled; without it the gateway behaves as if this module did not exist.
Refusals carry a reason code for the log and never the token or ticket refused: a ticket travels in
the URL (browsers cannot set headers on a WebSocket upgrade), so it is never logged here, and
`voice_gateway.log_redaction` keeps it out of the server's own request lines.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from eth_utils.address import to_checksum_address
from fastapi import Request, WebSocket

from voice_gateway.auth.rate_limit import RateLimiter
from voice_gateway.auth.refusal import Refusal, unauthorized
from voice_gateway.auth.service import AuthError, AuthService, WsGrant
from voice_gateway.auth.tokens import MAX_TOKEN_CHARS, AccessClaims
from voice_gateway.history import HistoryRecorder

log = logging.getLogger(__name__)

TURN_AUDIENCE: Final = "gateway"


@dataclass(frozen=True, slots=True)
class SignInGate:
    """What the turn routes need when sign-in is on.

    Attributes:
        service: tokens, tickets and session checks.
        turn_limit: turns per signed-in address on the HTTP turn routes.
        history: records signed-in users' turns.
        recheck_s: how often an open socket re-checks its session (revocation closes it within this
            plus one send).
    """

    service: AuthService
    turn_limit: RateLimiter
    history: HistoryRecorder
    recheck_s: float = 0.5

    async def caller(self, request: Request) -> AccessClaims:
        """The signed-in caller of an HTTP turn route: a live gateway access token from the
        `Authorization` header (never the query string), within the per-user turn limit.

        Raises:
            Refusal: 401 auth_failed, or 429 rate_limited with Retry-After.
        """
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_CHARS:
            log.info("turn refused: missing_token")
            raise unauthorized()
        try:
            claims = await self.service.check_access(token, TURN_AUDIENCE)
        except AuthError as exc:
            log.info("turn refused: %s", exc.code)
            raise unauthorized() from None
        decision = await self.turn_limit.hit(claims.sub)
        if not decision.allowed:
            retry = str(max(1, math.ceil(decision.retry_after_s)))
            raise Refusal(429, "rate_limited", "too many requests; try again later", {"Retry-After": retry})
        return claims

    async def admit_turn(self, address: str) -> bool:
        """Whether a signed-in wallet may have one more turn answered now (the same per-wallet
        limit as the HTTP turn routes, so a socket is no way around it)."""
        return (await self.turn_limit.hit(address)).allowed

    async def redeem(self, websocket: WebSocket) -> WsGrant | None:
        """Redeem the upgrade's `?ticket=` with its Origin; None (reason logged) when refused."""
        tickets = websocket.query_params.getlist("ticket")
        origin = websocket.headers.get("origin")
        code: str | None = None
        if not tickets:
            code = "missing_ticket"
        elif len(tickets) > 1:
            code = "malformed_ticket"
        elif origin is None:
            code = "origin_required"  # tickets are issued to browser pages, which always send one
        if code is None:
            try:
                grant = await self.service.redeem_ws_ticket(tickets[0], str(origin))
            except AuthError as exc:
                code = exc.code
            else:
                return WsGrant(
                    to_checksum_address(grant.address),
                    grant.role,
                    grant.session_id,
                    grant.session_version,
                    grant.origin,
                )
        log.warning("voice connection refused: sign-in", extra={"reason": code})
        return None

    async def watch(self, grant: WsGrant, end: Callable[[str, str], Awaitable[None]]) -> None:
        """Re-check the socket's session every `recheck_s`; when it is over (logout, revocation,
        expiry) or cannot be checked, call `end(code, message)` once and return."""
        while True:
            await asyncio.sleep(self.recheck_s)  # the re-check period, not a wait for a condition
            try:
                await self.service.check_session(grant.address, grant.session_id, grant.session_version)
            except AuthError as exc:
                log.info("voice session ended: %s", exc.code)
                await end("session_revoked", "this session was signed out")
                return
            except Exception as exc:
                # Fail closed: a session whose revocation cannot be checked does not stay open.
                log.warning("voice session ended: session check failed", exc_info=exc)
                await end("auth_unavailable", "the sign-in could not be checked; reconnect")
                return
