"""Wallet sign-in under load on loopback, and whether a flood from one IP slows everyone else.

    python -m benchmarks.auth_load [--wallets 200] [--requests 1000] [--concurrency 50] [--others 10]
        [--other-requests 120] [--flood-seconds 3] [--flood-connections 4] [--out FILE] [--no-record]

The server is the embedded sign-in stack (`zgvoice.auth_wiring.open_auth`: in-process sessions, SQLite
analytics, limits from settings, files in a temporary directory) mounted with `mount_auth` on a bare
FastAPI app and served by uvicorn in a child process on a free port of 127.0.0.1. Clients are httpx
over real TCP.

- A: `--wallets` fresh wallets sign in concurrently (nonce, an EIP-4361 message signed with
  eth-account, verify), at most `--concurrency` in flight. This server's per-IP and per-user limits
  are raised so that the load itself is not throttled.
- B: `--requests` GET /v1/me/history spread over those wallets' access tokens, same bound.
- C: a second server with the configured default limits. `--others` wallets signed in from 127.0.0.1
  make `--other-requests` requests, paced evenly over `--flood-seconds`, alone (the baseline); then
  the same while a flooding client in another child process, bound to 127.0.0.2 (all of 127.0.0.0/8
  is loopback on Linux), hammers /v1/auth/nonce and /v1/me/history over `--flood-connections`
  connections. Reported: flood requests sent and the share answered 429, the others' p50/p95 alone
  and under flood, the p95 ratio (target <= 2) and the others' errors (target 0).

Server and flooder run in processes of their own so that neither shares an event loop (or the GIL)
with the clients being timed; all of them still share this machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, Final, Literal, TypeVar

import anyio
import httpx
import uvicorn
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi import FastAPI

from benchmarks.report import append_row, summary, write_json
from voice_gateway.auth.routes import mount_auth
from zgvoice.auth_wiring import auth_origins, open_auth
from zgvoice.settings import Settings, load_settings

ROOT: Final = Path(__file__).resolve().parents[1]
OTHERS_IP: Final = "127.0.0.1"
FLOOD_IP: Final = "127.0.0.2"
FLOOD_PATHS: Final = ("/v1/auth/nonce", "/v1/me/history")
TARGET_P95_RATIO: Final = 2.0
# Every child stops by itself after this long, whatever happens to its parent.
CHILD_LIFETIME_S: Final = 600.0
START_TIMEOUT_S: Final = 60.0
STOP_TIMEOUT_S: Final = 15.0
REQUEST_TIMEOUT_S: Final = 30.0
MAX_FLOOD_REQUESTS: Final = 1_000_000
FLOOD_TOKEN_ENV: Final = "AUTH_LOAD_FLOOD_TOKEN"
RAISED_LIMITS: Final = {"auth_per_ip": 100_000, "http_per_ip": 1_000_000, "http_per_user": 1_000_000}
MAX_LINE_BYTES: Final = 64 * 1024
SIWE_DOMAIN: Final = "auth-load.localhost"

Limits = Literal["raised", "default"]
T = TypeVar("T")


# --- wallets and messages ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Wallet:
    """A fresh externally owned account."""

    key: bytes
    address: str

    @classmethod
    def fresh(cls) -> Wallet:
        account = Account.create()
        return cls(bytes(account.key), str(account.address))


@dataclass(frozen=True, slots=True)
class SiweTerms:
    """What a sign-in message must say to a server, and the Origin its requests carry."""

    domain: str
    scheme: str
    uri: str
    chain_id: int
    origin: str

    @classmethod
    def of(cls, settings: Settings) -> SiweTerms:
        cfg = settings.auth
        if cfg.domain is None or cfg.uri is None:
            raise ValueError("these settings leave the sign-in domain or URI to the gateway's address")
        chain_id = (cfg.chain_ids or [settings.chain.chain_id])[0]
        return cls(cfg.domain, cfg.scheme, cfg.uri, chain_id, sorted(auth_origins(settings))[0])


def siwe_message(terms: SiweTerms, address: str, nonce: str) -> str:
    """An EIP-4361 message for `address` that the server with `terms` accepts for a few minutes."""
    now = dt.datetime.now(dt.UTC)

    def stamp(moment: dt.datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    return "\n".join(
        [
            f"{terms.scheme}://{terms.domain} wants you to sign in with your Ethereum account:",
            address,
            "",
            "Sign in to zgvoice (load benchmark).",
            "",
            f"URI: {terms.uri}",
            "Version: 1",
            f"Chain ID: {terms.chain_id}",
            f"Nonce: {nonce}",
            f"Issued At: {stamp(now - dt.timedelta(seconds=5))}",
            f"Expiration Time: {stamp(now + dt.timedelta(minutes=5))}",
        ]
    )


def sign(text: str, key: bytes) -> str:
    """The EIP-191 personal-message signature of `text`, 0x hex."""
    return "0x" + bytes(Account.sign_message(encode_defunct(text=text), key).signature).hex()


# --- requests ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """One request's outcome: status 0 when no HTTP answer came (connection error, timeout)."""

    status: int
    ms: float
    retry_after: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SignIn:
    """One wallet's sign-in: `error` names the step that failed, None when it got tokens."""

    address: str
    verify: Reply | None
    access_token: str | None
    error: str | None


def client(base_url: str, origin: str, local_address: str, connections: int) -> httpx.AsyncClient:
    """An HTTP client whose connections leave from `local_address` (one source IP), at most `connections`."""
    transport = httpx.AsyncHTTPTransport(
        local_address=local_address,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )
    return httpx.AsyncClient(
        transport=transport, base_url=base_url, headers={"origin": origin}, timeout=REQUEST_TIMEOUT_S
    )


async def _timed(send: Callable[[], Awaitable[httpx.Response]]) -> tuple[Reply, httpx.Response | None]:
    started = time.perf_counter()
    try:
        response = await send()
    except httpx.HTTPError as exc:
        return Reply(0, (time.perf_counter() - started) * 1000, error=type(exc).__name__), None
    ms = (time.perf_counter() - started) * 1000
    return Reply(response.status_code, ms, response.headers.get("retry-after")), response


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def get_history(http: httpx.AsyncClient, token: str) -> Reply:
    """GET /v1/me/history with `token`."""
    reply, _ = await _timed(lambda: http.get("/v1/me/history", headers=_bearer(token)))
    return reply


async def sign_in(http: httpx.AsyncClient, terms: SiweTerms, wallet: Wallet) -> SignIn:
    """Nonce, sign, verify; the verify request is the one timed."""
    nonce, response = await _timed(lambda: http.get("/v1/auth/nonce"))
    if response is None or nonce.status != 200:
        return SignIn(wallet.address, None, None, f"nonce {nonce.status or nonce.error}")
    text = siwe_message(terms, wallet.address, str(response.json()["nonce"]))
    body = {"message": text, "signature": sign(text, wallet.key)}
    verify, response = await _timed(lambda: http.post("/v1/auth/verify", json=body))
    if response is None or verify.status != 200:
        return SignIn(wallet.address, verify, None, f"verify {verify.status or verify.error}")
    return SignIn(wallet.address, verify, str(response.json()["access_token"]), None)


async def bounded(count: int, concurrency: int, job: Callable[[int], Awaitable[T]]) -> list[T]:
    """`job(0)` .. `job(count - 1)` with at most `concurrency` in flight; results in index order."""
    results: dict[int, T] = {}
    indices = iter(range(count))

    async def worker() -> None:
        for index in indices:  # shared by the workers: each index is taken once
            results[index] = await job(index)

    async with anyio.create_task_group() as group:
        for _ in range(min(concurrency, count)):
            group.start_soon(worker)
    return [results[index] for index in range(count)]


async def sign_in_all(
    http: httpx.AsyncClient, terms: SiweTerms, wallets: Sequence[Wallet], concurrency: int
) -> list[SignIn]:
    """Sign every wallet in, at most `concurrency` at a time."""
    return await bounded(len(wallets), concurrency, lambda i: sign_in(http, terms, wallets[i]))


async def history_requests(
    http: httpx.AsyncClient, tokens: Sequence[str], count: int, concurrency: int
) -> list[Reply]:
    """`count` history requests, request i with `tokens[i % len(tokens)]`, at most `concurrency` at a time."""
    return await bounded(count, concurrency, lambda i: get_history(http, tokens[i % len(tokens)]))


async def paced_requests(
    http: httpx.AsyncClient, tokens: Sequence[str], per_client: int, duration_s: float
) -> list[Reply]:
    """Each token is one client making `per_client` history requests evenly spaced over `duration_s`.

    Paced rather than back to back, so that the baseline and the run under flood offer the same load.
    """
    interval = duration_s / per_client
    replies: list[Reply] = []

    async def one_client(position: int, token: str) -> None:
        # Staggered starts, so the clients do not all fire at the same instant.
        start = anyio.current_time() + interval * position / len(tokens)
        for k in range(per_client):
            await anyio.sleep_until(start + k * interval)
            replies.append(await get_history(http, token))

    async with anyio.create_task_group() as group:
        for position, token in enumerate(tokens):
            group.start_soon(one_client, position, token)
    return replies


def errors(replies: Sequence[Reply]) -> dict[str, int]:
    """Replies that are not 200, counted by status (or by exception name when no answer came)."""
    counts = Counter(str(r.status or r.error) for r in replies if r.status != 200)
    return dict(sorted(counts.items()))


# --- child processes: the server and the flooder ---------------------------------------------------


def server_settings(workdir: Path, limits: Limits) -> Settings:
    """The embedded profile with sign-in on and every file under `workdir`; `raised` lifts the limits."""
    auth: dict[str, object] = {
        "enabled": True,
        # Named here rather than derived from a gateway address: the port is chosen later.
        "domain": SIWE_DOMAIN,
        "scheme": "http",
        "uri": f"http://{SIWE_DOMAIN}/",
        "signing_key_path": workdir / "auth-signing.key",
        "analytics_path": workdir / "analytics.db",
    }
    if limits == "raised":
        auth.update(RAISED_LIMITS)
    profiles = {
        "master_key_path": workdir / "master.key",
        "blobs_path": workdir / "profiles.db",
        "keys_path": workdir / "data-keys.db",
    }
    return load_settings(auth=auth, profiles=profiles)


@dataclass(frozen=True, slots=True)
class Served:
    """A running server: where it listens, what its sign-in messages must say, and its limits."""

    base_url: str
    terms: SiweTerms
    limits: dict[str, float]


def _child_env() -> dict[str, str]:
    # Settings come from the command line only: no ZGV_* variable or config file of this shell.
    return {k: v for k, v in os.environ.items() if not k.startswith("ZGV_")}


def _log_file(path: Path) -> IO[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("ab")


async def _read_line(process: Process, timeout_s: float, reader: BufferedByteReceiveStream) -> str:
    try:
        with anyio.fail_after(timeout_s):
            return (await reader.receive_until(b"\n", MAX_LINE_BYTES)).decode()
    except (anyio.EndOfStream, anyio.IncompleteRead):
        raise RuntimeError(f"the child process ended (exit {await process.wait()}); see its log") from None


async def _stop(process: Process) -> None:
    """Close the child's stdin (its signal to stop), wait a bounded time, kill if it is still there."""
    if process.stdin is not None:
        await process.stdin.aclose()
    with anyio.move_on_after(STOP_TIMEOUT_S):
        await process.wait()
    if process.returncode is None:
        process.kill()
    await process.aclose()


@asynccontextmanager
async def auth_server(limits: Limits, workdir: Path) -> AsyncIterator[Served]:
    """Start the sign-in server in a child process with its files under `workdir`; stop it on exit."""
    command = [sys.executable, "-m", "benchmarks.auth_load", "--serve", limits, "--workdir", str(workdir)]
    with _log_file(workdir / "server.log") as log:
        process = await anyio.open_process(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=ROOT, env=_child_env()
        )
        try:
            assert process.stdout is not None
            info = json.loads(
                await _read_line(process, START_TIMEOUT_S, BufferedByteReceiveStream(process.stdout))
            )
            yield Served(f"http://{OTHERS_IP}:{info['port']}", SiweTerms(**info["terms"]), info["limits"])
        finally:
            await _stop(process)


class Flood:
    """A flooding client in a child process: every connection from FLOOD_IP, back to back."""

    def __init__(self, process: Process) -> None:
        assert process.stdout is not None
        self._process = process
        self._lines = BufferedByteReceiveStream(process.stdout)

    async def throttled(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Wait until both flooded paths have answered 429 at least once."""
        line = await _read_line(self._process, timeout_s, self._lines)
        if line.strip() != "throttled":
            raise RuntimeError(f"unexpected line from the flooder: {line[:200]!r}")

    async def stop(self) -> dict[str, Any]:
        """Stop the flood and return its counts (sent, by_status, retry_after, seconds)."""
        assert self._process.stdin is not None
        await self._process.stdin.aclose()
        report: dict[str, Any] = json.loads(await _read_line(self._process, STOP_TIMEOUT_S, self._lines))
        return report


@asynccontextmanager
async def flooding(served: Served, token: str, connections: int, log_path: Path) -> AsyncIterator[Flood]:
    """Start a flood against `served` with `token` for the history requests; stopped on exit at the latest."""
    command = [
        sys.executable, "-m", "benchmarks.auth_load",
        "--flood", served.base_url, "--origin", served.terms.origin, "--flood-connections", str(connections),
    ]  # fmt: skip
    env = _child_env() | {FLOOD_TOKEN_ENV: token}  # not on the command line, where `ps` shows it
    with _log_file(log_path) as log:
        process = await anyio.open_process(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=ROOT, env=env
        )
        try:
            yield Flood(process)
        finally:
            await _stop(process)


async def _stdin_closed() -> None:
    """Return when stdin reaches end of file: the parent's signal to stop, or the parent is gone."""
    fd = sys.stdin.fileno()
    while True:  # bounded in time by the caller
        await anyio.wait_readable(fd)
        if not os.read(fd, 4096):
            return


async def _serve_child(limits: Limits, workdir: Path) -> None:
    settings = server_settings(workdir, limits)
    async with open_auth(settings) as deps:
        if deps is None:
            raise RuntimeError("sign-in is off in these settings")
        app = FastAPI()
        mount_auth(app, deps)
        sock = socket.socket()
        # Inherited by accepted sockets: without it, small keep-alive replies wait ~40 ms for
        # Nagle's algorithm (asyncio sets TCP_NODELAY only on sockets created with IPPROTO_TCP).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((OTHERS_IP, 0))
        sock.listen(1024)
        server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_config=None, access_log=False))
        cfg = settings.auth
        limits_info = {
            "auth_per_ip": cfg.auth_per_ip,
            "http_per_ip": cfg.http_per_ip,
            "http_per_user": cfg.http_per_user,
            "rate_window_s": cfg.rate_window_s,
        }
        info = {"port": sock.getsockname()[1], "terms": asdict(SiweTerms.of(settings)), "limits": limits_info}
        print(json.dumps(info), flush=True)

        async def stop_when_told() -> None:
            with anyio.move_on_after(CHILD_LIFETIME_S):
                await _stdin_closed()
            server.should_exit = True

        async with anyio.create_task_group() as group:
            group.start_soon(stop_when_told)
            await server.serve([sock])
            group.cancel_scope.cancel()
        sock.close()


async def _flood_child(base_url: str, origin: str, connections: int) -> None:
    token = os.environ[FLOOD_TOKEN_ENV]
    by_status: Counter[str] = Counter()
    retry_after: Counter[str] = Counter()
    throttled: set[str] = set()
    stop = anyio.Event()
    sent = 0
    started = time.perf_counter()

    async with client(base_url, origin, FLOOD_IP, connections) as http:

        async def worker(offset: int) -> None:
            nonlocal sent
            turn = offset  # each connection alternates the paths on its own count, not the shared one
            while not stop.is_set() and sent < MAX_FLOOD_REQUESTS:
                path = FLOOD_PATHS[turn % len(FLOOD_PATHS)]
                turn += 1
                sent += 1
                reply, _ = await _timed(functools.partial(http.get, path, headers=_bearer(token)))
                by_status[str(reply.status or reply.error)] += 1
                if reply.status == 429:
                    retry_after[str(reply.retry_after)] += 1
                    if path not in throttled:
                        throttled.add(path)
                        if len(throttled) == len(FLOOD_PATHS):
                            print("throttled", flush=True)

        async def stop_when_told() -> None:
            with anyio.move_on_after(CHILD_LIFETIME_S):
                await _stdin_closed()
            stop.set()

        async with anyio.create_task_group() as group:
            group.start_soon(stop_when_told)
            for offset in range(connections):
                group.start_soon(worker, offset)
    report = {
        "sent": sent,
        "seconds": round(time.perf_counter() - started, 3),
        "by_status": dict(sorted(by_status.items())),
        "retry_after": dict(sorted(retry_after.items())),
    }
    print(json.dumps(report), flush=True)


# --- the phases -------------------------------------------------------------------------------------


def _ms(replies: Sequence[Reply]) -> list[float]:
    return [reply.ms for reply in replies]


async def measure_load(workdir: Path, wallets: int, requests: int, concurrency: int) -> dict[str, Any]:
    """Phases A and B: concurrent sign-ins, then authenticated requests, on a server with raised limits."""
    fresh = [Wallet.fresh() for _ in range(wallets)]
    async with (
        auth_server("raised", workdir) as served,
        client(served.base_url, served.terms.origin, OTHERS_IP, concurrency) as http,
    ):
        started = time.perf_counter()
        signed = await sign_in_all(http, served.terms, fresh, concurrency)
        sign_in_s = time.perf_counter() - started
        tokens = [s.access_token for s in signed if s.access_token is not None]
        if not tokens:
            raise RuntimeError(f"no wallet could sign in: {Counter(s.error for s in signed)}")
        started = time.perf_counter()
        replies = await history_requests(http, tokens, requests, concurrency)
        requests_s = time.perf_counter() - started
    failed = Counter(s.error for s in signed if s.error is not None)
    return {
        "sign_in": {
            "wallets": wallets,
            "concurrency": concurrency,
            "errors": sum(failed.values()),
            "error_kinds": dict(sorted(failed.items())),
            "verify_ms": summary([s.verify.ms for s in signed if s.verify is not None]),
            "seconds": round(sign_in_s, 3),
            "per_s": round(wallets / sign_in_s, 1),
        },
        "requests": {
            "n": requests,
            "tokens": len(tokens),
            "concurrency": concurrency,
            "errors": len(replies) - sum(r.status == 200 for r in replies),
            "error_kinds": errors(replies),
            "ms": summary(_ms(replies)),
            "seconds": round(requests_s, 3),
            "per_s": round(requests / requests_s, 1),
        },
    }


def check_budget(limits: dict[str, float], others: int, per_client: int) -> None:
    """Refuse a run whose legitimate clients would themselves exceed the server's default limits.

    All the others share one source IP, so together they must stay under its per-IP limits: two
    sign-in requests each, then one warm-up and `per_client` requests in each of the two runs.

    Raises:
        ValueError: the run does not fit.
    """
    needs = {
        "auth_per_ip": 2 * others,
        "http_per_ip": others * (1 + 2 * per_client),
        "http_per_user": 1 + 2 * per_client,
    }
    over = [f"{name} {need} > {limits[name]:g}" for name, need in needs.items() if need > limits[name]]
    if over:
        raise ValueError(f"the other clients would be throttled by the default limits: {', '.join(over)}")


async def measure_flood(
    workdir: Path, others: int, other_requests: int, seconds: float, flood_connections: int
) -> dict[str, Any]:
    """Phase C: the others' latency alone, then while one IP floods, on a server with default limits."""
    per_client = max(1, other_requests // others)
    async with auth_server("default", workdir) as served:
        check_budget(served.limits, others, per_client)
        base, origin = served.base_url, served.terms.origin
        async with (
            client(base, origin, OTHERS_IP, others) as http,
            client(base, origin, FLOOD_IP, 1) as flood_http,
        ):
            signed = await sign_in_all(http, served.terms, [Wallet.fresh() for _ in range(others)], others)
            flooder = await sign_in(flood_http, served.terms, Wallet.fresh())
            tokens = [s.access_token for s in signed if s.access_token is not None]
            if len(tokens) != others or flooder.access_token is None:
                failed = Counter(s.error for s in [*signed, flooder] if s.error is not None)
                raise RuntimeError(f"sign-in failed before the flood: {dict(failed)}")
            # One request per client first, so both runs reuse open connections.
            warm = await bounded(others, others, lambda i: get_history(http, tokens[i]))
            alone = await paced_requests(http, tokens, per_client, seconds)
            async with flooding(
                served, flooder.access_token, flood_connections, workdir / "flood.log"
            ) as flood:
                await flood.throttled()
                flooded = await paced_requests(http, tokens, per_client, seconds)
                report = await flood.stop()
    baseline, under = summary(_ms(alone)), summary(_ms(flooded))
    refused = int(report["by_status"].get("429", 0))
    return {
        "limits": served.limits,
        "others": {
            "clients": others,
            "source_ip": OTHERS_IP,
            "requests_per_run": per_client * others,
            "seconds": seconds,
            "baseline_ms": baseline,
            "flood_ms": under,
            "p95_ratio": round(under["p95"] / baseline["p95"], 2),
            "p50_ratio": round(under["p50"] / baseline["p50"], 2),
            "target_p95_ratio": TARGET_P95_RATIO,
            "errors": len(warm)
            + len(alone)
            + len(flooded)
            - sum(r.status == 200 for r in [*warm, *alone, *flooded]),
            "error_kinds": errors([*warm, *alone, *flooded]),
        },
        "flood": {
            "source_ip": FLOOD_IP,
            "connections": flood_connections,
            "paths": list(FLOOD_PATHS),
            "sent": report["sent"],
            "seconds": report["seconds"],
            "per_s": round(report["sent"] / report["seconds"], 1),
            "by_status": report["by_status"],
            "share_429": round(refused / report["sent"], 4),
            "retry_after": report["retry_after"],
        },
    }


async def _measure(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="auth-load-") as tmp:
        load = await measure_load(Path(tmp) / "load", args.wallets, args.requests, args.concurrency)
        flood = await measure_flood(
            Path(tmp) / "limits", args.others, args.other_requests, args.flood_seconds, args.flood_connections
        )
    return load | flood


def headline(figures: dict[str, Any]) -> str:
    """The one-line summary of a run."""
    s, r, o, f = figures["sign_in"], figures["requests"], figures["others"], figures["flood"]
    return (
        f"{s['wallets']} sign-ins ({s['concurrency']} in flight): {s['errors']} errors, "
        f"verify p50 {s['verify_ms']['p50']} ms / p95 {s['verify_ms']['p95']} ms, {s['per_s']}/s; "
        f"{r['n']} GET /v1/me/history over {r['tokens']} tokens: {r['errors']} errors, "
        f"p50 {r['ms']['p50']} ms / p95 {r['ms']['p95']} ms, {r['per_s']}/s; "
        f"flood from {f['source_ip']} ({f['connections']} connections, {f['seconds']} s): "
        f"{f['sent']} requests, {f['share_429'] * 100:.1f}% answered 429; "
        f"{o['clients']} others on {o['source_ip']} ({o['requests_per_run']} requests per run over "
        f"{o['seconds']} s): p95 {o['baseline_ms']['p95']} ms alone, "
        f"{o['flood_ms']['p95']} ms under flood (x{o['p95_ratio']}, target <= {o['target_p95_ratio']:g}), "
        f"p50 {o['baseline_ms']['p50']} -> {o['flood_ms']['p50']} ms, {o['errors']} errors"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.auth_load", description=__doc__)
    parser.add_argument("--wallets", type=int, default=200, help="wallets signing in (phase A)")
    parser.add_argument("--requests", type=int, default=1000, help="authenticated requests (phase B)")
    parser.add_argument("--concurrency", type=int, default=50, help="requests in flight in phases A and B")
    parser.add_argument("--others", type=int, default=10, help="clients on 127.0.0.1 timed in phase C")
    parser.add_argument("--other-requests", type=int, default=120, help="their requests per run (phase C)")
    parser.add_argument("--flood-seconds", type=float, default=3.0, help="length of each run of phase C")
    parser.add_argument("--flood-connections", type=int, default=4, help="the flooder's connections")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument("--no-record", action="store_true", help="do not append to BENCHMARKS.md")
    # The child processes: a server (`--serve LIMITS --workdir DIR`) and the flooder (`--flood URL`).
    parser.add_argument("--serve", choices=["raised", "default"], help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--flood", help=argparse.SUPPRESS)
    parser.add_argument("--origin", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None and args.workdir is not None:
        asyncio.run(_serve_child(args.serve, args.workdir))
        return
    if args.flood is not None and args.origin is not None:
        asyncio.run(_flood_child(args.flood, args.origin, args.flood_connections))
        return
    counts = (args.wallets, args.requests, args.concurrency, args.others, args.other_requests)
    if min(counts) < 1 or args.flood_connections < 1:
        parser.error("counts, concurrency and connections must be at least 1")
    if not 0.1 <= args.flood_seconds <= 300:
        parser.error("--flood-seconds must be between 0.1 and 300")
    figures = asyncio.run(_measure(args))
    line = headline(figures)
    print(line)
    write_json(args.out, figures)
    if not args.no_record:
        command = "python -m benchmarks.auth_load " + " ".join(argv if argv is not None else sys.argv[1:])
        append_row("auth_load", command.strip(), line)


if __name__ == "__main__":
    main()
