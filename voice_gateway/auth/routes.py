"""The HTTP face of wallet sign-in: `/v1/auth/*`, the caller's own data (`/v1/me/*`) and `/v1/admin/*`.

Thin handlers around `AuthService` and `AnalyticsStore`. What every handler shares:

- Bodies are read with a hard cap (4 KiB) before any JSON parsing; a declared or streamed body over
  it is refused with 413 `too_large` without reading the rest.
- Bearer tokens come from the `Authorization` header only, never from the query string or a cookie.
- Every refused sign-in, refresh or token is a 401 `auth_failed` with one generic message; the
  precise reason goes to the log (code only, never a token, signature or message) and, for sign-in
  and refresh, to the analytics audit log with the client IP hashed.
- Rate limits: per IP on the sign-in routes of `/v1/auth/*`; per IP (before the token is checked, so
  garbage tokens are throttled too) and per user (after) on `/v1/auth/ws-ticket`, `/v1/me/*` and
  `/v1/admin/*`. A refusal is 429 with `Retry-After`, and the refused client is answered before
  routing for a few seconds after (`flood_guard`).

The client IP is the socket peer: behind a reverse proxy every request shares the proxy's IP, so a
deployment behind one must put a proxy-aware middleware in front (not done here).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Final

from eth_utils.address import to_checksum_address
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from voice_gateway.analytics.store import (
    MAX_PAGE,
    AnalyticsError,
    AnalyticsStore,
    AnalyticsUnavailable,
    AuditEvent,
    HistoryPage,
    JsonValue,
)
from voice_gateway.auth.flood_guard import Bench, FloodGuard
from voice_gateway.auth.rate_limit import RateLimiter
from voice_gateway.auth.refusal import Refusal, unauthorized
from voice_gateway.auth.service import AuthError, AuthService, Session
from voice_gateway.auth.siwe import MAX_MESSAGE_CHARS, MAX_SIGNATURE_CHARS
from voice_gateway.auth.tokens import MAX_TOKEN_CHARS, AccessClaims

log = logging.getLogger(__name__)

_ADDRESS: Final = re.compile(r"0x[0-9a-fA-F]{40}")

MAX_AUTH_BODY_BYTES: Final = 4 * 1024
MAX_REFRESH_TOKEN_CHARS: Final = 256
MAX_QUERY_CHARS: Final = 32
# Audiences a client may ask for at sign-in and refresh; the others are minted service to service.
CLIENT_AUDIENCES: Final = frozenset({"gateway", "admin"})
# Codes of AuthError that mean "authenticated, but not allowed", not "who are you?".
_FORBIDDEN_CODES: Final = frozenset({"not_admin"})


@dataclass(frozen=True, slots=True)
class AuthDeps:
    """What the auth routes need.

    Attributes:
        service: sign-in, tokens, revocation and tickets.
        analytics: the caller's history, export and erasure, and the audit log.
        auth_ip_limit: per client IP on `/v1/auth/*`.
        http_ip_limit: per client IP on `/v1/me/*` and `/v1/admin/*`.
        user_limit: per signed-in address on `/v1/me/*` and `/v1/admin/*`.
        allowed_origins: browser Origins allowed to refresh (CSRF guard); the same set the
            service's policy uses for sign-in and tickets.
        forget_user: destroys the user's data-encryption key (crypto-shredding); None when the
            deployment keeps no encrypted user data.
        ip_hash_key: key of the HMAC-SHA256 that turns client IPs into audit `ip_hash` values.
        turn_limit: per signed-in address on the gateway's turn routes (`POST /v1/ask`,
            `POST /v1/voice/query`); not used by these routes.
    """

    service: AuthService
    analytics: AnalyticsStore
    auth_ip_limit: RateLimiter
    http_ip_limit: RateLimiter
    user_limit: RateLimiter
    allowed_origins: frozenset[str]
    forget_user: Callable[[str], Awaitable[None]] | None = None
    ip_hash_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    turn_limit: RateLimiter | None = None


def mount_auth(app: FastAPI, deps: AuthDeps) -> None:
    """Add the sign-in, `/v1/me` and `/v1/admin` routes to `app`.

    Args:
        app: the gateway app (`voice_gateway.app.create_app`).
        deps: the service, stores and limits the routes use (the caller owns their lifecycles).
    """
    # Clients a per-IP limit refused are answered before routing for a few seconds (flood_guard).
    bench = Bench(
        {
            "/v1/auth/ws-ticket": deps.http_ip_limit.name,
            "/v1/auth/": deps.auth_ip_limit.name,
            "/v1/me": deps.http_ip_limit.name,
            "/v1/admin/": deps.http_ip_limit.name,
            "/v1/users/": deps.http_ip_limit.name,
        }
    )
    app.add_middleware(FloodGuard, bench=bench)
    routes = _Routes(deps, bench)
    app.add_api_route("/v1/auth/nonce", routes.nonce, methods=["GET"])
    app.add_api_route("/v1/auth/verify", routes.verify, methods=["POST"])
    app.add_api_route("/v1/auth/refresh", routes.refresh, methods=["POST"])
    app.add_api_route("/v1/auth/logout", routes.logout, methods=["POST"])
    app.add_api_route("/v1/auth/ws-ticket", routes.ws_ticket, methods=["POST"])
    app.add_api_route("/v1/me/history", routes.history, methods=["GET"])
    app.add_api_route("/v1/me/export", routes.export, methods=["GET"])
    app.add_api_route("/v1/users/{address}/history", routes.user_history, methods=["GET"])
    app.add_api_route("/v1/me", routes.delete_me, methods=["DELETE"])
    app.add_api_route("/v1/admin/audit", routes.audit, methods=["GET"])


class _Routes:
    def __init__(self, deps: AuthDeps, bench: Bench) -> None:
        self._d = deps
        self._bench = bench

    # --- /v1/auth ---------------------------------------------------------------------------------

    async def nonce(self, request: Request) -> Response:
        return await self._guarded(request, self._nonce)

    async def _nonce(self, request: Request) -> JSONResponse:
        await self._limit_ip(request, self._d.auth_ip_limit)
        try:
            nonce = await self._d.service.issue_nonce(request.headers.get("origin"))
        except AuthError as exc:
            raise Refusal(403, "origin_not_allowed", "this page may not sign in here") from exc
        return JSONResponse({"nonce": nonce, "expires_in_s": self._d.service.policy.nonce_ttl_s})

    async def verify(self, request: Request) -> Response:
        return await self._guarded(request, self._verify)

    async def _verify(self, request: Request) -> JSONResponse:
        await self._limit_ip(request, self._d.auth_ip_limit)
        body = _json_object(await _read_capped(request), {"message", "signature", "audience"})
        message = _text_field(body, "message", MAX_MESSAGE_CHARS)
        signature = _text_field(body, "signature", MAX_SIGNATURE_CHARS)
        audience = _audience(body)
        origin = request.headers.get("origin", "")
        try:
            session = await self._d.service.verify(message, signature, origin, audience=audience)
        except AuthError as exc:
            await self._audit(request, "signin_failed", exc.code)
            raise unauthorized() from None
        return JSONResponse(_session_json(session))

    async def refresh(self, request: Request) -> Response:
        return await self._guarded(request, self._refresh)

    async def _refresh(self, request: Request) -> JSONResponse:
        await self._limit_ip(request, self._d.auth_ip_limit)
        self._require_origin(request)
        body = _json_object(await _read_capped(request), {"refresh_token", "audience"})
        token = _text_field(body, "refresh_token", MAX_REFRESH_TOKEN_CHARS)
        audience = _audience(body)
        try:
            session = await self._d.service.refresh(token, audience=audience)
        except AuthError as exc:
            await self._audit(request, "refresh_failed", exc.code)
            raise unauthorized() from None
        return JSONResponse(_session_json(session))

    async def logout(self, request: Request) -> Response:
        return await self._guarded(request, self._logout)

    async def _logout(self, request: Request) -> JSONResponse:
        """With a bearer access token, ends that token's session; else the body's refresh token's."""
        await self._limit_ip(request, self._d.auth_ip_limit)
        raw = await _read_capped(request)
        if "authorization" in request.headers:
            claims = await self._bearer(request, "gateway")
            if raw.strip():
                raise Refusal(422, "unexpected_body", "log out with a bearer token or a body, not both")
            ended = await self._d.service.logout(session=claims)
            return JSONResponse({"logged_out": ended})
        self._require_origin(request)
        token = _text_field(_json_object(raw, {"refresh_token"}), "refresh_token", MAX_REFRESH_TOKEN_CHARS)
        try:
            ended = await self._d.service.logout(refresh_token=token)
        except AuthError as exc:
            log.info("logout refused: %s", exc.code)
            raise unauthorized() from None
        return JSONResponse({"logged_out": ended})

    async def ws_ticket(self, request: Request) -> Response:
        return await self._guarded(request, self._ws_ticket)

    async def _ws_ticket(self, request: Request) -> JSONResponse:
        # Signed in already: limited like the other authenticated routes (per IP, then per wallet),
        # not by the tight limit on sign-in attempts; a page reconnecting is no sign-in.
        await self._limit_ip(request, self._d.http_ip_limit)
        claims = await self._bearer(request, "gateway")
        await self._limit_user(claims)
        origin = request.headers.get("origin")
        if origin is None:
            raise Refusal(403, "origin_required", "a WebSocket ticket is issued to a browser page only")
        try:
            ticket = await self._d.service.issue_ws_ticket(claims, origin)
        except AuthError as exc:
            if exc.code == "wrong_origin":
                raise Refusal(403, "origin_not_allowed", "this page may not open voice sessions") from None
            raise unauthorized() from None
        return JSONResponse({"ticket": ticket, "expires_in_s": self._d.service.policy.ticket_ttl_s})

    # --- /v1/me -----------------------------------------------------------------------------------

    async def history(self, request: Request) -> Response:
        return await self._guarded(request, self._history)

    async def _history(self, request: Request) -> JSONResponse:
        claims = await self._signed_in(request)
        return await self._history_of(request, claims.sub)

    async def user_history(self, request: Request) -> Response:
        return await self._guarded(request, self._user_history)

    async def _user_history(self, request: Request) -> JSONResponse:
        # One's own history by address, or anyone's with an admin token. Anything else is 404, the
        # same as an address nobody uses: a caller learns nothing about other users.
        await self._limit_ip(request, self._d.http_ip_limit)
        token = _bearer_token(request)
        raw = str(request.path_params.get("address", ""))
        address = to_checksum_address(raw) if _ADDRESS.fullmatch(raw) else None
        try:
            claims = await self._d.service.check_access(token, "admin")
        except AuthError:
            claims = await self._bearer(request, "gateway")
            if claims.sub != address:
                raise Refusal(404, "not_found", "no such history") from None
        await self._limit_user(claims)
        if address is None:
            raise Refusal(404, "not_found", "no such history")
        return await self._history_of(request, address)

    async def _history_of(self, request: Request, address: str) -> JSONResponse:
        _only_params(request, {"limit", "before"})
        limit = _int_param(request, "limit", default=50)
        before = _before_param(request)
        turns = await self._d.analytics.history(address, limit, before)
        page = HistoryPage.of(turns, limit)
        return JSONResponse(
            {
                "turns": [_turn_json(asdict(turn)) for turn in page.turns],
                "next_before": page.next_before,
            }
        )

    async def export(self, request: Request) -> Response:
        return await self._guarded(request, self._export)

    async def _export(self, request: Request) -> JSONResponse:
        claims = await self._signed_in(request)
        _only_params(request, set())
        document = await self._d.analytics.export(claims.sub)
        return JSONResponse(document, headers={"Cache-Control": "no-store"})

    async def delete_me(self, request: Request) -> Response:
        return await self._guarded(request, self._delete_me)

    async def _delete_me(self, request: Request) -> JSONResponse:
        """Erase the caller: analytics rows, the data key, then every token and session.

        In this order so a failure part-way leaves the caller able to retry with the same token.
        """
        claims = await self._signed_in(request)
        _only_params(request, set())
        counts = await self._d.analytics.delete_user(claims.sub)
        if self._d.forget_user is not None:
            await self._d.forget_user(claims.sub)
        await self._d.service.revoke_user(claims.sub)
        await self._audit(request, "user_deleted", "requested")
        log.info("a user erased their data")
        return JSONResponse({"deleted": counts, "key_forgotten": self._d.forget_user is not None})

    # --- /v1/admin --------------------------------------------------------------------------------

    async def audit(self, request: Request) -> Response:
        return await self._guarded(request, self._audit_events)

    async def _audit_events(self, request: Request) -> JSONResponse:
        await self._limit_ip(request, self._d.http_ip_limit)
        claims = await self._admin(request)
        await self._limit_user(claims)
        _only_params(request, {"limit", "kind"})
        limit = _int_param(request, "limit", default=100)
        kind = request.query_params.get("kind")
        if kind is not None and (not kind or len(kind) > 64):
            raise Refusal(422, "invalid_kind", "kind must be 1..64 characters")
        events = await self._d.analytics.audit_events(limit, kind)
        return JSONResponse({"events": [asdict(event) for event in events]})

    # --- shared -----------------------------------------------------------------------------------

    async def _guarded(
        self, request: Request, handler: Callable[[Request], Awaitable[JSONResponse]]
    ) -> Response:
        try:
            return await handler(request)
        except Refusal as refusal:
            return refusal.response()
        except AnalyticsError as exc:
            return Refusal(422, exc.code, str(exc)).response()
        except AnalyticsUnavailable as exc:
            log.warning("analytics unavailable: %s", exc.code)
            headers = {"Retry-After": "5"} if exc.retryable else None
            return Refusal(503, "unavailable", "try again later", headers).response()

    async def _signed_in(self, request: Request) -> AccessClaims:
        await self._limit_ip(request, self._d.http_ip_limit)
        claims = await self._bearer(request, "gateway")
        await self._limit_user(claims)
        return claims

    async def _bearer(self, request: Request, audience: str) -> AccessClaims:
        token = _bearer_token(request)
        try:
            return await self._d.service.check_access(token, audience)
        except AuthError as exc:
            log.info("access refused: %s", exc.code)
            if exc.code in _FORBIDDEN_CODES:
                raise Refusal(403, "forbidden", "this account may not do that") from None
            raise unauthorized() from None

    async def _admin(self, request: Request) -> AccessClaims:
        """An admin-audience token; a live gateway token gets 403 (known, but not an admin token)."""
        token = _bearer_token(request)
        try:
            return await self._d.service.check_access(token, "admin")
        except AuthError as exc:
            if exc.code == "not_admin":
                raise Refusal(403, "forbidden", "admins only") from None
            if exc.code != "token_wrong_audience":
                log.info("admin access refused: %s", exc.code)
                raise unauthorized() from None
        try:
            await self._d.service.check_access(token, "gateway")
        except AuthError as exc:
            log.info("admin access refused: %s", exc.code)
            raise unauthorized() from None
        raise Refusal(403, "forbidden", "admins only: sign in with the admin audience")

    def _require_origin(self, request: Request) -> None:
        if request.headers.get("origin") not in self._d.allowed_origins:
            raise Refusal(403, "origin_not_allowed", "this page may not use this session")

    async def _limit_ip(self, request: Request, limiter: RateLimiter) -> None:
        ip = _client_ip(request)
        try:
            await _enforce(limiter, ip)
        except Refusal as refusal:
            self._bench.refused(limiter.name, ip, float(refusal.headers.get("Retry-After", "1")))
            raise

    async def _limit_user(self, claims: AccessClaims) -> None:
        await _enforce(self._d.user_limit, claims.sub)

    async def _audit(self, request: Request, kind: str, reason: str) -> None:
        ip_hash = hmac.new(self._d.ip_hash_key, _client_ip(request).encode(), hashlib.sha256).hexdigest()
        event = AuditEvent(kind=kind, reason=reason, address=None, ip_hash=ip_hash, detail={}, at=time.time())
        try:
            await self._d.analytics.record_audit(event)
        except (AnalyticsError, AnalyticsUnavailable) as exc:
            # The refusal still stands; only its record is lost, and the log says so.
            log.warning("audit event not recorded (%s: %s): %s", kind, reason, exc.code)


async def _enforce(limiter: RateLimiter, subject: str) -> None:
    decision = await limiter.hit(subject)
    if not decision.allowed:
        retry = str(max(1, math.ceil(decision.retry_after_s)))
        raise Refusal(429, "rate_limited", "too many requests; try again later", {"Retry-After": retry})


def _client_ip(request: Request) -> str:
    return request.client.host if request.client is not None and request.client.host else "unknown"


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_CHARS:
        raise unauthorized()
    return token


async def _read_capped(request: Request) -> bytes:
    too_large = Refusal(413, "too_large", f"the request body is larger than {MAX_AUTH_BODY_BYTES} bytes")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_AUTH_BODY_BYTES):
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_AUTH_BODY_BYTES:
            raise too_large
    return bytes(body)


def _json_object(raw: bytes, allowed: set[str]) -> dict[str, object]:
    try:
        payload = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise Refusal(400, "invalid_encoding", "the request body is not valid UTF-8") from None
    except json.JSONDecodeError:
        raise Refusal(400, "invalid_json", "the request body is not JSON") from None
    if not isinstance(payload, dict):
        raise Refusal(422, "invalid_body", "the request body must be a JSON object")
    unknown = sorted(set(payload) - allowed)
    if unknown:
        raise Refusal(422, "unknown_field", f"unknown field(s): {', '.join(unknown)[:200]}")
    return payload


def _text_field(body: dict[str, object], name: str, max_chars: int) -> str:
    value = body.get(name)
    if value is None:
        raise Refusal(422, f"missing_{name}", f'"{name}" is required')
    if not isinstance(value, str) or not value:
        raise Refusal(422, f"invalid_{name}", f'"{name}" must be a non-empty string')
    if len(value) > max_chars:
        raise Refusal(413, "too_large", f'"{name}" is longer than {max_chars} characters')
    return value


def _audience(body: dict[str, object]) -> str:
    audience = body.get("audience", "gateway")
    if not isinstance(audience, str) or audience not in CLIENT_AUDIENCES:
        raise Refusal(422, "invalid_audience", f'"audience" is one of {sorted(CLIENT_AUDIENCES)}')
    return audience


def _only_params(request: Request, allowed: set[str]) -> None:
    unknown = sorted(set(request.query_params.keys()) - allowed)
    if unknown:
        raise Refusal(422, "unknown_parameter", f"unknown query parameter(s): {', '.join(unknown)[:200]}")
    for name in allowed:
        if len(request.query_params.getlist(name)) > 1:
            raise Refusal(422, f"invalid_{name}", f"{name} may be given once")


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if len(raw) > MAX_QUERY_CHARS or not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise Refusal(422, f"invalid_{name}", f"{name} must be an integer in 1..{MAX_PAGE}")
    return int(raw)


def _before_param(request: Request) -> float | None:
    raw = request.query_params.get("before")
    if raw is None:
        return None
    invalid = Refusal(422, "invalid_before", "before must be a non-negative number of seconds")
    if len(raw) > MAX_QUERY_CHARS:
        raise invalid
    try:
        value = float(raw)
    except ValueError:
        raise invalid from None
    if not math.isfinite(value) or value < 0:
        raise invalid
    return value


def _turn_json(turn: dict[str, object]) -> dict[str, object]:
    turn.pop("address", None)  # always the caller's own
    return turn


def _session_json(session: Session) -> dict[str, JsonValue]:
    return {
        "access_token": session.access_token,
        "access_expires_at": session.access_expires_at,
        "refresh_token": session.refresh_token,
        "refresh_expires_at": session.refresh_expires_at,
        "address": session.address,
        "role": session.role,
    }


# For routes of other modules that share this one's conventions (body cap, error body, limits).
text_field = _text_field
client_ip = _client_ip
enforce_limit = _enforce


async def read_json_object(request: Request, allowed: set[str]) -> dict[str, object]:
    """The request's JSON object body, read with the 4 KiB cap, with only `allowed` fields.

    Raises:
        Refusal: too large, not UTF-8, not JSON, not an object, or unknown fields.
    """
    return _json_object(await _read_capped(request), allowed)
