"""Wiring of wallet sign-in for the gateway: stores per profile, the signing key, limits and erasure.

Embedded profile: in-process `MemorySessionStore` (sessions end with the process) and SQLite
analytics under var/. Cluster profile: Redis sessions and PostgreSQL analytics shared by replicas,
and a signing key that must already exist (replicas cannot each generate their own).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from cryptography.hazmat.primitives import serialization

from voice_gateway.analytics import AnalyticsStore, SqliteAnalyticsStore
from voice_gateway.auth.contract_wallet import Eip1271Checker
from voice_gateway.auth.gate import SignInGate
from voice_gateway.auth.page_wallet import DevnetWallet, SignInTerms
from voice_gateway.auth.rate_limit import RateLimiter
from voice_gateway.auth.routes import AuthDeps
from voice_gateway.auth.service import AuthPolicy, AuthService
from voice_gateway.auth.session_store import MemorySessionStore, SessionStore
from voice_gateway.auth.siwe import SiweExpectations
from voice_gateway.auth.tokens import SigningKeys, ensure_signing_key, load_signing_key
from voice_gateway.history import HistoryRecorder
from zerog_client import DEVNET
from zgvoice.runtime import user_data
from zgvoice.settings import Settings


def sign_in_expectations(settings: Settings) -> SiweExpectations:
    """What a sign-in message must say on this deployment (from settings, never from requests)."""
    cfg = settings.auth
    domain = sign_in_domain(settings)
    return SiweExpectations(
        domain=domain,
        scheme=cfg.scheme,
        uri=cfg.uri or f"{cfg.scheme}://{domain}/",
        chain_ids=frozenset(cfg.chain_ids or [settings.chain.chain_id]),
    )


def sign_in_domain(settings: Settings) -> str:
    """The domain sign-in messages name: configured, or where the gateway listens."""
    return settings.auth.domain or f"{settings.gateway.host}:{settings.gateway.port}"


def page_wallet(settings: Settings) -> tuple[SignInTerms, DevnetWallet | None]:
    """The mic page's sign-in terms, and the built-in wallet when the chain is the local devnet."""
    terms = SignInTerms(sign_in_expectations(settings), settings.chain.chain_id)
    on_devnet = settings.chain.chain_id == DEVNET.chain_id
    if not (settings.auth.devnet_wallet and on_devnet):
        return terms, None
    return terms, DevnetWallet(settings.wallet.devnet_key.get_secret_value(), terms)


def auth_origins(settings: Settings) -> frozenset[str]:
    """Browser origins that may sign in: configured, or `<scheme>://<domain>`."""
    cfg = settings.auth
    return frozenset(cfg.allowed_origins) or frozenset({f"{cfg.scheme}://{sign_in_domain(settings)}"})


def sign_in_gate(settings: Settings, auth: AuthDeps) -> SignInGate:
    """Sign-in on the turn routes and the voice socket, from what `open_auth` opened."""
    if auth.turn_limit is None:
        raise ValueError("open_auth sets the per-user turn limit; these AuthDeps have none")
    return SignInGate(
        service=auth.service,
        turn_limit=auth.turn_limit,
        history=HistoryRecorder(auth.analytics),
        recheck_s=settings.auth.session_recheck_s,
    )


@asynccontextmanager
async def open_auth(settings: Settings) -> AsyncIterator[AuthDeps | None]:
    """Open what the auth routes need, or yield None when `auth.enabled` is off.

    Raises:
        KeyFileError: the signing key is unusable (or, in the cluster profile, missing).
        AnalyticsUnavailable: the analytics database cannot be opened.
    """
    cfg = settings.auth
    if not cfg.enabled:
        yield None
        return
    async with AsyncExitStack() as stack:
        store: SessionStore
        analytics: AnalyticsStore
        if settings.profile == "cluster":
            # Imported here so the embedded profile needs neither redis nor asyncpg.
            from voice_gateway.analytics.postgres_store import PostgresAnalyticsStore
            from voice_gateway.auth.redis_session_store import RedisSessionStore

            redis_url, dsn = settings.cluster.redis_url, settings.cluster.postgres_dsn
            if redis_url is None or dsn is None:  # the settings validator already refuses this
                raise ValueError("the cluster profile needs Redis and PostgreSQL")
            store = RedisSessionStore(redis_url)
            analytics = PostgresAnalyticsStore(dsn.get_secret_value(), settings.cluster.postgres_schema)
            key = load_signing_key(cfg.signing_key_path)
        else:
            store = MemorySessionStore()
            cfg.analytics_path.parent.mkdir(parents=True, exist_ok=True)
            analytics = SqliteAnalyticsStore(cfg.analytics_path)
            key = ensure_signing_key(cfg.signing_key_path)
        stack.push_async_callback(store.close)
        await analytics.open()
        stack.push_async_callback(analytics.close)

        origins = auth_origins(settings)
        expectations = sign_in_expectations(settings)
        policy = AuthPolicy(access_ttl_s=cfg.access_ttl_s, allowed_origins=origins)
        # Contract wallets (EIP-1271) are asked on the configured chain, whose id the checker verifies.
        checker = Eip1271Checker.from_url(settings.chain.rpc_url)
        stack.push_async_callback(checker.aclose)
        service = AuthService(
            store, SigningKeys(key), expectations, cfg.admin_addresses, checker, policy=policy
        )
        # The same key store the interpreter seals with (shared by replicas in the cluster profile).
        cipher, _ = await stack.enter_async_context(user_data(settings))

        async def forget_user(address: str) -> None:
            await cipher.forget(address)

        raw_key = key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        yield AuthDeps(
            service=service,
            analytics=analytics,
            auth_ip_limit=RateLimiter(store, cfg.auth_per_ip, cfg.rate_window_s, "auth-ip"),
            http_ip_limit=RateLimiter(store, cfg.http_per_ip, cfg.rate_window_s, "http-ip"),
            user_limit=RateLimiter(store, cfg.http_per_user, cfg.rate_window_s, "http-user"),
            turn_limit=RateLimiter(store, cfg.turns_per_user, cfg.rate_window_s, "turn-user"),
            allowed_origins=origins,
            forget_user=forget_user,
            # Stable across restarts and replicas, so audit events of one IP can be correlated.
            ip_hash_key=hmac.new(raw_key, b"zgv audit ip hash", hashlib.sha256).digest(),
        )
