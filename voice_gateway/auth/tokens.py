"""The gateway's access tokens: short-lived EdDSA (Ed25519) JWTs, one audience per service.

Minting and verification pin one algorithm ("EdDSA"); the key comes from a server-side keyring
chosen by `kid`, never from the token (headers that would point at a key, `jku`/`jwk`/`x5u`/`x5c`,
and anything else outside `alg`/`typ`/`kid` are refused). Every claim is required. Times are checked
here against the injected clock rather than by PyJWT (which reads the system clock), so tests can
move time and the gateway has one notion of "now". Refusals raise `TokenRejected` with a stable
code; token values never appear in messages or logs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from eth_utils.address import to_checksum_address

ALGORITHM: Final = "EdDSA"
TOKEN_TYPE: Final = "at+jwt"  # RFC 9068: keeps these from being confused with other JWTs
MAX_ACCESS_TTL_S: Final = 600
MAX_TOKEN_CHARS: Final = 4096
DEFAULT_AUDIENCES: Final = frozenset({"gateway", "ws", "admin", "mcp", "learning"})
ROLES: Final = frozenset({"user", "admin"})
REQUIRED_CLAIMS: Final = ("iss", "sub", "aud", "iat", "nbf", "exp", "jti", "role", "sv", "sid")
_ALLOWED_HEADERS: Final = frozenset({"alg", "typ", "kid"})


class TokenRejected(Exception):
    """A refused access token; `code` is stable (for audit logs and tests), the text is generic."""

    def __init__(self, code: str) -> None:
        super().__init__("access token refused")
        self.code = code


class KeyFileError(ValueError):
    """The signing-key file is missing, unreadable, not Ed25519, or readable by others."""


def key_id(public_key: Ed25519PublicKey) -> str:
    """The RFC 7638 JWK thumbprint of an Ed25519 public key (base64url, no padding)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


class SigningKeys:
    """The keyring: one active signing key plus older public keys still accepted during rotation.

    Args:
        active: signs every new token.
        retired: public keys of earlier signing keys; tokens they signed verify until they expire.
    """

    def __init__(self, active: Ed25519PrivateKey, retired: Iterable[Ed25519PublicKey] = ()) -> None:
        self.active = active
        self.active_kid = key_id(active.public_key())
        self._verifying = {key_id(key): key for key in retired}
        self._verifying[self.active_kid] = active.public_key()

    def __repr__(self) -> str:  # never print key material
        return f"SigningKeys(active_kid={self.active_kid!r}, keys={len(self._verifying)})"

    def public_key(self, kid: str) -> Ed25519PublicKey | None:
        """The verifying key with this id, or None."""
        return self._verifying.get(kid)


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """Load an Ed25519 private key from a PEM (PKCS#8, unencrypted) file.

    Raises:
        KeyFileError: missing, unreadable, or not an Ed25519 private key.
    """
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        # The path is safe to name; the file's content is not.
        raise KeyFileError(f"cannot load an Ed25519 private key from {path}") from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise KeyFileError(f"{path} does not hold an Ed25519 private key")
    return loaded


def ensure_signing_key(path: Path) -> Ed25519PrivateKey:
    """The embedded profile's key: loaded from `path`, or generated into it (mode 0600) first.

    Raises:
        KeyFileError: the file exists but is not a usable key, or group/other can access it.
    """
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
            # A hard link appears complete or not at all and fails if the name is taken: of two
            # processes starting at once, one installs its key and the other loads that one.
            os.link(partial, path)
        except FileExistsError:
            return load_signing_key(path)
        finally:
            partial.unlink(missing_ok=True)
        return key
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"{path} is accessible to other users; chmod 600 it")
    return load_signing_key(path)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """The verified claims of an access token."""

    iss: str
    sub: str
    aud: str
    iat: int
    nbf: int
    exp: int
    jti: str
    role: str
    sv: int
    sid: str


@dataclass(frozen=True, slots=True)
class AccessGrant:
    """A minted access token and its claims."""

    token: str
    claims: AccessClaims

    def __repr__(self) -> str:
        return f"AccessGrant(claims={self.claims!r})"


class AccessTokens:
    """Mints and verifies access tokens for one issuer.

    Args:
        keys: the keyring.
        issuer: the exact `iss` of every token.
        ttl_s: lifetime of new tokens (at most 600 s).
        clock: Unix seconds.
        leeway_s: clock skew tolerated on `exp`, `nbf` and `iat`.
        audiences: the audiences tokens may be minted for and verified against.

    Raises:
        ValueError: a lifetime above 600 s, or an empty issuer or audience set.
    """

    def __init__(
        self,
        keys: SigningKeys,
        issuer: str,
        *,
        ttl_s: int = 300,
        clock: Callable[[], float] = time.time,
        leeway_s: int = 30,
        audiences: frozenset[str] = DEFAULT_AUDIENCES,
    ) -> None:
        if not 0 < ttl_s <= MAX_ACCESS_TTL_S:
            raise ValueError(f"an access token lives 1 to {MAX_ACCESS_TTL_S} seconds")
        if not issuer or not audiences:
            raise ValueError("an issuer and at least one audience are required")
        self._keys = keys
        self.issuer = issuer
        self.ttl_s = ttl_s
        self._clock = clock
        self._leeway_s = leeway_s
        self.audiences = audiences

    def mint(
        self, address: str, audience: str, role: str, session_version: int, session_id: str
    ) -> AccessGrant:
        """A signed access token for `address` and `audience`.

        Raises:
            ValueError: an unknown audience or role, or a non-checksummed address.
        """
        if audience not in self.audiences:
            raise ValueError(f"unknown audience {audience!r}")
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        if to_checksum_address(address) != address:
            raise ValueError("the subject must be a checksummed address")
        now = int(self._clock())
        claims = AccessClaims(
            iss=self.issuer,
            sub=address,
            aud=audience,
            iat=now,
            nbf=now,
            exp=now + self.ttl_s,
            jti=secrets.token_urlsafe(16),
            role=role,
            sv=session_version,
            sid=session_id,
        )
        payload = {name: getattr(claims, name) for name in REQUIRED_CLAIMS}
        token = jwt.encode(
            payload, self._keys.active, ALGORITHM, headers={"typ": TOKEN_TYPE, "kid": self._keys.active_kid}
        )
        return AccessGrant(token, claims)

    def verify_access(self, token: str, audience: str) -> AccessClaims:
        """Verify `token` for `audience` and return its claims.

        Raises:
            TokenRejected: malformed, forbidden_header, wrong_algorithm, wrong_type, unknown_key,
                bad_signature, missing_claim, bad_claim, wrong_audience, wrong_issuer, expired,
                not_yet_valid, issued_in_future, lifetime_too_long.
        """
        if audience not in self.audiences:
            raise ValueError(f"unknown audience {audience!r}")
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            raise TokenRejected("malformed")
        key = self._header_key(token)
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=audience,
                issuer=self.issuer,
                options={
                    "verify_signature": True,
                    "require": list(REQUIRED_CLAIMS),
                    "strict_aud": True,
                    # Checked below against our clock, with the same leeway everywhere.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise TokenRejected("bad_signature") from None
        except jwt.MissingRequiredClaimError:
            raise TokenRejected("missing_claim") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected("wrong_audience") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected("wrong_issuer") from None
        except jwt.InvalidAlgorithmError:
            raise TokenRejected("wrong_algorithm") from None
        except jwt.InvalidTokenError:
            raise TokenRejected("malformed") from None
        claims = _claims(payload)
        now = self._clock()
        if claims.exp - claims.iat > MAX_ACCESS_TTL_S or claims.nbf < claims.iat:
            raise TokenRejected("lifetime_too_long")
        if claims.iat > now + self._leeway_s:
            raise TokenRejected("issued_in_future")
        if now >= claims.exp + self._leeway_s:
            raise TokenRejected("expired")
        if now < claims.nbf - self._leeway_s:
            raise TokenRejected("not_yet_valid")
        return claims

    def _header_key(self, token: str) -> Ed25519PublicKey:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise TokenRejected("malformed") from None
        if set(header) - _ALLOWED_HEADERS:
            # jku/jwk/x5u/x5c would let the token name its own key; crit/b64 change the format.
            raise TokenRejected("forbidden_header")
        if header.get("alg") != ALGORITHM:
            raise TokenRejected("wrong_algorithm")
        if header.get("typ") != TOKEN_TYPE:
            raise TokenRejected("wrong_type")
        kid = header.get("kid")
        key = self._keys.public_key(kid) if isinstance(kid, str) else None
        if key is None:
            raise TokenRejected("unknown_key")
        return key


def _claims(payload: dict[str, Any]) -> AccessClaims:
    def text(name: str) -> str:
        value = payload[name]
        if not isinstance(value, str) or not value:
            raise TokenRejected("bad_claim")
        return value

    def number(name: str) -> int:
        value = payload[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise TokenRejected("bad_claim")
        return value

    sub = text("sub")
    try:
        checksummed = to_checksum_address(sub) == sub
    except ValueError:
        checksummed = False
    if not checksummed or text("role") not in ROLES:
        raise TokenRejected("bad_claim")
    return AccessClaims(
        iss=text("iss"),
        sub=sub,
        aud=text("aud"),
        iat=number("iat"),
        nbf=number("nbf"),
        exp=number("exp"),
        jti=text("jti"),
        role=text("role"),
        sv=number("sv"),
        sid=text("sid"),
    )
