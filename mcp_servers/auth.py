"""Bearer tokens for the HTTP MCP servers: minting and local verification of signed JWTs.

Tokens are JWTs signed with HS256 (a shared secret of at least 32 bytes) or EdDSA (Ed25519).
Verification pins one algorithm, so `alg: none` and algorithm confusion are refused, and checks the
signature, `exp`/`nbf`/`iat` with a small leeway, the issuer, and that the audience is this server's
canonical resource URL (RFC 8707). Token values are never logged; only the reason for a refusal is.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, Final, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from mcp.server.auth.provider import AccessToken

logger = logging.getLogger(__name__)

Algorithm = Literal["HS256", "EdDSA"]

SCOPES: Final = frozenset(
    {
        "chain:read",
        "tx:prepare",
        "tx:send",
        "storage:read",
        "storage:write",
        "kv:read",
        "kv:write",
        "knowledge:read",
    }
)
"""Every scope a zgvoice MCP token may carry."""

MIN_SECRET_BYTES: Final = 32
DEFAULT_LEEWAY_S: Final = 30
DEFAULT_MAX_TTL_S: Final = 24 * 3600
_REQUIRED_CLAIMS: Final = ["exp", "iat", "iss", "aud", "sub"]

SigningKey = str | bytes | Ed25519PrivateKey
VerifyingKey = str | bytes | Ed25519PublicKey


class TokenError(ValueError):
    """A token cannot be minted with these arguments (bad key, scope or lifetime)."""


def canonical_resource(url: str) -> str:
    """The canonical form of a resource URL used as the token audience: no trailing slash."""
    return url.rstrip("/")


def check_scopes(scopes: Iterable[str]) -> list[str]:
    """The scopes, deduplicated and sorted.

    Raises:
        TokenError: a scope is not one of `SCOPES`.
    """
    wanted = sorted(set(scopes))
    unknown = [scope for scope in wanted if scope not in SCOPES]
    if unknown:
        raise TokenError(f"unknown scope(s): {', '.join(unknown)}; known: {', '.join(sorted(SCOPES))}")
    if not wanted:
        raise TokenError("at least one scope is required")
    return wanted


def _secret_bytes(secret: str | bytes) -> bytes:
    raw = secret.encode() if isinstance(secret, str) else secret
    if len(raw) < MIN_SECRET_BYTES:
        raise TokenError(f"the HS256 secret must be at least {MIN_SECRET_BYTES} bytes")
    return raw


def _private_key(key: SigningKey) -> Ed25519PrivateKey:
    if isinstance(key, Ed25519PrivateKey):
        return key
    loaded = load_pem_private_key(key.encode() if isinstance(key, str) else key, password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise TokenError("the EdDSA signing key must be an Ed25519 private key")
    return loaded


def _public_key(key: VerifyingKey | SigningKey) -> Ed25519PublicKey:
    if isinstance(key, Ed25519PublicKey):
        return key
    if isinstance(key, Ed25519PrivateKey):
        return key.public_key()
    raw = key.encode() if isinstance(key, str) else key
    if b"PRIVATE KEY" in raw:
        return _private_key(raw).public_key()
    loaded = load_pem_public_key(raw)
    if not isinstance(loaded, Ed25519PublicKey):
        raise TokenError("the EdDSA verifying key must be an Ed25519 public key")
    return loaded


def mint_token(
    key: SigningKey,
    subject: str,
    audience: str,
    scopes: Sequence[str],
    ttl_s: int,
    *,
    issuer: str,
    algorithm: Algorithm = "HS256",
    client_id: str | None = None,
    now: float | None = None,
) -> str:
    """A signed access token for `audience` (the MCP server's canonical resource URL).

    Args:
        key: the HS256 secret (>= 32 bytes) or an Ed25519 private key (object or PEM).
        subject: who the token is for (`sub`).
        audience: the canonical resource URL of the server that will accept it (`aud`).
        scopes: scopes from `SCOPES`, joined into the `scope` claim.
        ttl_s: lifetime in seconds (1 to 24 h).
        issuer: the issuer URL (`iss`), which the verifier checks.
        algorithm: "HS256" or "EdDSA".
        client_id: the OAuth client the token is issued to; defaults to `subject`.
        now: the issue time (Unix seconds); defaults to the current time.

    Raises:
        TokenError: bad key, unknown scope or out-of-range lifetime.
    """
    if not 0 < ttl_s <= DEFAULT_MAX_TTL_S:
        raise TokenError(f"ttl must be between 1 and {DEFAULT_MAX_TTL_S} seconds")
    if not subject:
        raise TokenError("subject must not be empty")
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": canonical_resource(audience),
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_s,
        "jti": uuid.uuid4().hex,
        "scope": " ".join(check_scopes(scopes)),
        "client_id": client_id or subject,
    }
    if algorithm == "HS256":
        if isinstance(key, Ed25519PrivateKey):
            raise TokenError("HS256 needs a shared secret, not an Ed25519 key")
        return jwt.encode(claims, _secret_bytes(key), "HS256", headers={"typ": "at+jwt"})
    return jwt.encode(claims, _private_key(key), "EdDSA", headers={"typ": "at+jwt"})


class JwtTokenVerifier:
    """The SDK `TokenVerifier` for our JWTs, checked locally (no introspection round trip).

    Returns `None` (so the SDK answers 401 with a `WWW-Authenticate` challenge) for any token that is
    malformed, signed with another key or algorithm, expired, not yet valid, issued by another
    issuer, for another audience, too long-lived, or carrying unknown scopes.
    """

    def __init__(
        self,
        key: VerifyingKey | SigningKey,
        *,
        audience: str,
        issuer: str,
        algorithm: Algorithm = "HS256",
        leeway_s: int = DEFAULT_LEEWAY_S,
        max_ttl_s: int = DEFAULT_MAX_TTL_S,
    ) -> None:
        self._algorithm: Algorithm = algorithm
        self._key: bytes | Ed25519PublicKey
        if algorithm == "HS256":
            if isinstance(key, Ed25519PrivateKey | Ed25519PublicKey):
                raise TokenError("HS256 needs a shared secret, not an Ed25519 key")
            self._key = _secret_bytes(key)
        else:
            self._key = _public_key(key)
        self._audience = canonical_resource(audience)
        self._issuer = issuer
        self._leeway_s = leeway_s
        self._max_ttl_s = max_ttl_s

    @property
    def audience(self) -> str:
        return self._audience

    async def verify_token(self, token: str) -> AccessToken | None:
        claims = self._decode(token)
        if claims is None:
            return None
        scopes = str(claims.get("scope", "")).split()
        if not scopes or any(scope not in SCOPES for scope in scopes):
            logger.info("bearer token refused: unknown or missing scopes")
            return None
        return AccessToken(
            token=token,
            client_id=str(claims.get("client_id") or claims["sub"]),
            scopes=scopes,
            expires_at=int(claims["exp"]),
            resource=self._audience,
            subject=str(claims["sub"]),
            claims={"iss": claims["iss"], "jti": claims.get("jti")},
        )

    def _decode(self, token: str) -> dict[str, Any] | None:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != self._algorithm:
                logger.info("bearer token refused: unexpected algorithm")
                return None
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway_s,
                options={"require": _REQUIRED_CLAIMS, "verify_signature": True, "strict_aud": True},
            )
        except jwt.InvalidTokenError as exc:
            # The exception names the failed check, never the token itself.
            logger.info("bearer token refused: %s", type(exc).__name__)
            return None
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            logger.info("bearer token refused: empty subject")
            return None
        if int(claims["exp"]) - int(claims["iat"]) > self._max_ttl_s:
            logger.info("bearer token refused: lifetime too long")
            return None
        if int(claims["iat"]) > time.time() + self._leeway_s:
            logger.info("bearer token refused: issued in the future")
            return None
        return claims


def generate_ed25519_pem() -> tuple[str, str]:
    """A fresh Ed25519 key pair as (private PEM, public PEM), for setup scripts and tests."""
    from cryptography.hazmat.primitives import serialization

    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem
