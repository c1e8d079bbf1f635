"""`zgv up`: the devnet chain plus the gateway on one event loop, stopped together."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Generator

import anyio.to_thread
import uvicorn
from fastapi import FastAPI

from voice_gateway.app import VoiceMount, create_app
from voice_gateway.audio_store import AudioStore
from voice_gateway.auth.page_wallet import mount_page_wallet, mount_sign_in_off
from voice_gateway.auth.routes import mount_auth
from voice_gateway.log_redaction import install_query_redaction
from voice_gateway.voice.registry import SessionRegistry
from zgvoice.auth_wiring import open_auth, page_wallet, sign_in_gate
from zgvoice.devnet import devnet_node, devnet_storage, provision_devnet
from zgvoice.runtime import Runtime, open_runtime
from zgvoice.settings import Settings

log = logging.getLogger(__name__)


class _GatewayServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, stop_requested: threading.Event) -> None:
        super().__init__(config)
        self._stop_requested = stop_requested

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # Like uvicorn, a SIGINT/SIGTERM starts a graceful shutdown; unlike uvicorn, the signal is
        # not raised again afterwards, so the caller still stops the devnet and exits with 0.
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        if self._stop_requested.is_set():
            self.should_exit = True  # a signal came while the devnet or the voice was loading
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            # One human line on stdout; everything else is JSON logs on stderr.
            print(
                f"zgvoice is up at http://{self.config.host}:{self.config.port} (Ctrl-C stops it)", flush=True
            )


async def serve_embedded(settings: Settings, stop_requested: threading.Event) -> None:
    """Start the devnet, wire the runtime to it, serve HTTP until SIGINT/SIGTERM, then stop all.

    `stop_requested` is set by the caller's signal handlers while starting up; uvicorn's own
    handlers take over once it serves.
    """
    with devnet_node(settings.devnet) as node:
        chain = settings.chain.model_copy(
            update={"rpc_url": node.rpc_url, "chain_id": settings.devnet.chain_id}
        )
        settings = settings.model_copy(update={"chain": chain})
        contracts = await provision_devnet(node.rpc_url, chain.chain_id)
        async with (
            devnet_storage(settings.devnet, node.rpc_url, contracts) as storage,
            open_runtime(_with_devnet_storage(settings, storage.node_urls, contracts.flow)) as runtime,
            open_auth(settings) as auth,
        ):
            log.info(
                "devnet ready",
                extra={
                    "rpc_url": node.rpc_url,
                    "chain_id": chain.chain_id,
                    "flow": contracts.flow,
                    "storage_nodes": storage.node_urls,
                },
            )
            await anyio.to_thread.run_sync(runtime.warm_up)
            gate = sign_in_gate(settings, auth) if auth is not None else None
            app = create_app(
                runtime.service,
                runtime.health,
                settings.gateway.max_body_bytes,
                voice_mount(runtime),
                gate=gate,
            )
            if auth is not None:
                mount_auth(app, auth)
                terms, wallet = page_wallet(settings)
                mount_page_wallet(app, terms, wallet, auth.service, auth.auth_ip_limit)
            else:
                mount_sign_in_off(app)
            server = _GatewayServer(uvicorn_config(app, settings), stop_requested)
            log.info(
                "gateway starting", extra={"url": f"http://{settings.gateway.host}:{settings.gateway.port}"}
            )
            await server.serve()
    log.info("stopped")


def uvicorn_config(app: FastAPI, settings: Settings) -> uvicorn.Config:
    """How the gateway is served: our logging (none of uvicorn's own configuration), no access log,
    and `ticket=` values redacted from the request lines uvicorn logs anyway (WebSocket upgrades)."""
    install_query_redaction()
    return uvicorn.Config(
        app,
        host=settings.gateway.host,
        port=settings.gateway.port,
        log_config=None,
        access_log=False,
        lifespan="off",
    )


def allowed_origins(settings: Settings) -> frozenset[str]:
    """Browser origins allowed to open voice sessions: configured, or the gateway's own."""
    if settings.voice.allowed_origins:
        return frozenset(settings.voice.allowed_origins)
    port = settings.gateway.port
    return frozenset({f"http://127.0.0.1:{port}", f"http://localhost:{port}", f"http://[::1]:{port}"})


def voice_mount(runtime: Runtime) -> VoiceMount:
    """The voice side of the gateway, wired from the runtime and its settings."""
    v = runtime.settings.voice
    return VoiceMount(
        deps=runtime.voice_deps(),
        registry=SessionRegistry(v.max_sessions, v.max_sessions_per_client, v.max_sessions_per_user),
        allowed_origins=allowed_origins(runtime.settings),
        audio_store=AudioStore(v.audio_store_entries, v.audio_ttl_s),
        upload_max_bytes=v.upload_max_bytes,
        upload_max_seconds=v.upload_max_seconds,
    )


def _with_devnet_storage(settings: Settings, node_urls: list[str], flow: str) -> Settings:
    """Point the storage client at the devnet's own nodes and Flow."""
    if not node_urls:
        return settings
    storage = settings.storage.model_copy(
        update={"node_urls": node_urls, "flow_address": flow, "enabled": True}
    )
    return settings.model_copy(update={"storage": storage})
