"""`RpcPool` against real anvil nodes, with a TCP proxy in front of an endpoint so a test can kill it,
make it hang up, or count the requests that reach it.

The pool keeps the configured order among endpoints within `prefer_within_ms` of the fastest, so a
proxy listed first is normally the primary. Tests that need it to be the primary also mark the other
endpoints as clearly slower in their health record (`prefer`), so latency noise on a loaded machine
cannot reorder them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import anyio
import pytest

from tests.support.processes import free_port, wait_until_async
from tests.support.tcp_proxy import TcpProxy
from zerog_client.chain.breaker import BreakerState
from zerog_client.chain.jsonrpc import JsonRpcError
from zerog_client.chain.pool import Endpoint, PoolConfig, RpcPool
from zerog_client.devnet import AnvilConfig, AnvilNode, find_anvil
from zerog_client.errors import ChainUnreachableError, WrongChainError
from zerog_client.networks import DEVNET
from zgvoice.devnet import NPM_TOOLS_DIR

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

OTHER_CHAIN = 424_242
SLOW_MS = 1_000_000.0
# Fast backoff and a breaker that, once open, stays open for the whole test unless a test moves
# the endpoint's clock; no background health checks to change the picture under a test.
CONFIG = PoolConfig(
    timeout_s=5.0, backoff_s=0.001, failure_threshold=3, cooldown_s=600, health_interval_s=3600
)


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def other_chain() -> Iterator[AnvilNode]:
    """A second anvil that serves another chain id."""
    binary = find_anvil(None, (NPM_TOOLS_DIR,))
    with AnvilNode(AnvilConfig(binary=binary, chain_id=OTHER_CHAIN)) as node:
        yield node


async def proxy_to(node: AnvilNode) -> TcpProxy:
    proxy = TcpProxy(node.config.host, node.port)
    await proxy.start()
    return proxy


@pytest.fixture
async def proxy(anvil: AnvilNode) -> AsyncIterator[TcpProxy]:
    async with TcpProxy(anvil.config.host, anvil.port) as running:
        yield running


@pytest.fixture
async def second_proxy(anvil: AnvilNode) -> AsyncIterator[TcpProxy]:
    async with TcpProxy(anvil.config.host, anvil.port) as running:
        yield running


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def prefer(pool: RpcPool, url: str) -> None:
    """Make every other endpoint look slow, so `url` is tried first while it is healthy."""
    for endpoint in pool.endpoints:
        if endpoint.url != url:
            endpoint.health.latency_ms = SLOW_MS


async def pinned_balance(pool: RpcPool) -> tuple[list[object], str]:
    accounts = await pool.call("eth_accounts")
    block = await pool.call("eth_blockNumber")
    return [accounts[0], block], await pool.call("eth_getBalance", [accounts[0], block])


def state_of(endpoint: Endpoint) -> BreakerState:
    # A call, so the type checker does not carry an earlier `is` narrowing past pool activity.
    return endpoint.health.state


def test_a_pool_needs_an_endpoint() -> None:
    with pytest.raises(ValueError, match="at least one"):
        RpcPool([], DEVNET.chain_id)


# --- failover --------------------------------------------------------------------------------------


async def test_reads_keep_succeeding_when_the_primary_dies_mid_run(anvil: AnvilNode, proxy: TcpProxy) -> None:
    total, workers = 400, 8
    async with RpcPool([proxy.url, anvil.rpc_url], DEVNET.chain_id, CONFIG) as pool:
        prefer(pool, proxy.url)
        params, expected = await pinned_balance(pool)
        results: list[object] = []
        done_at_kill: list[int] = []

        async def reader() -> None:
            while len(results) < total:
                if len(results) % 5 == 0:
                    (answer,) = await pool.batch([("eth_getBalance", params)])
                else:
                    answer = await pool.call("eth_getBalance", params)
                results.append(answer)

        async def killer() -> None:
            await wait_until_async(lambda: proxy.requests >= 60, 30, "reads through the primary")
            done_at_kill.append(len(results))
            await proxy.stop()

        with anyio.fail_after(60):
            async with anyio.create_task_group() as group:
                group.start_soon(killer)
                for _ in range(workers):
                    group.start_soon(reader)

        assert results == [expected] * len(results)
        assert len(results) >= total
        (killed_at,) = done_at_kill
        assert 0 < killed_at < total - 100, "reads before and after the kill"
        primary = pool.endpoints[0]
        assert primary.url == proxy.url
        assert primary.health.state is BreakerState.OPEN
        # And it keeps working on the second endpoint alone.
        assert await pool.call("eth_getBalance", params) == expected


async def test_a_batch_fails_over_as_a_whole(anvil: AnvilNode, proxy: TcpProxy) -> None:
    async with RpcPool([proxy.url, anvil.rpc_url], DEVNET.chain_id, CONFIG) as pool:
        prefer(pool, proxy.url)
        before = proxy.requests
        assert await pool.batch([("eth_chainId", []), ("eth_chainId", [])]) == [hex(DEVNET.chain_id)] * 2
        assert proxy.requests == before + 1
        await proxy.hang_up()
        answers = await pool.batch([("eth_chainId", []), ("eth_notAMethod", [])])
        assert answers[0] == hex(DEVNET.chain_id)
        assert isinstance(answers[1], JsonRpcError)
        assert answers[1].rpc_code == -32601
        assert proxy.requests == before + 2


@pytest.mark.parametrize(
    ("primary_ms", "secondary_ms", "first_used"),
    [(1.0, 1.0, "primary"), (15.0, 1.0, "primary"), (21.0, 1.0, "primary"), (21.5, 1.0, "secondary")],
)
async def test_the_configured_primary_stays_first_unless_clearly_slower(
    proxy: TcpProxy, second_proxy: TcpProxy, primary_ms: float, secondary_ms: float, first_used: str
) -> None:
    config = dataclasses.replace(CONFIG, prefer_within_ms=20.0)
    async with RpcPool([proxy.url, second_proxy.url], DEVNET.chain_id, config) as pool:
        primary, secondary = pool.endpoints
        primary.health.latency_ms, secondary.health.latency_ms = primary_ms, secondary_ms
        before = {"primary": proxy.requests, "secondary": second_proxy.requests}
        await pool.call("eth_chainId")
        after = {"primary": proxy.requests, "secondary": second_proxy.requests}
        assert {name for name in after if after[name] != before[name]} == {first_used}


# --- the chain id ----------------------------------------------------------------------------------


@pytest.mark.parametrize("wrong_first", [True, False])
async def test_an_endpoint_of_another_chain_is_never_used(
    anvil: AnvilNode, other_chain: AnvilNode, wrong_first: bool
) -> None:
    wrong = await proxy_to(other_chain)
    try:
        urls = [wrong.url, anvil.rpc_url] if wrong_first else [anvil.rpc_url, wrong.url]
        async with RpcPool(urls, DEVNET.chain_id, CONFIG) as pool:
            assert wrong.requests == 1  # the chain-id check at open
            prefer(pool, wrong.url)
            answers = [await pool.call("eth_chainId") for _ in range(30)]
            answers += await pool.batch([("eth_chainId", [])] * 10)
            assert answers == [hex(DEVNET.chain_id)] * 40
            assert wrong.requests == 1
            assert [e.wrong_chain for e in pool.endpoints if e.url == wrong.url] == [OTHER_CHAIN]
    finally:
        await wrong.stop()


async def test_the_right_endpoint_dying_never_falls_back_to_another_chain(
    other_chain: AnvilNode, proxy: TcpProxy
) -> None:
    wrong = await proxy_to(other_chain)
    try:
        async with RpcPool([wrong.url, proxy.url], DEVNET.chain_id, CONFIG) as pool:
            assert await pool.call("eth_chainId") == hex(DEVNET.chain_id)
            await proxy.stop()
            after_open = wrong.requests
            for _ in range(5):
                with pytest.raises(ChainUnreachableError):
                    await pool.call("eth_chainId")
            # Once found out, it is not even asked again.
            assert wrong.requests == after_open == 1
    finally:
        await wrong.stop()


async def test_an_endpoint_down_at_open_is_checked_before_its_first_use(
    anvil: AnvilNode, other_chain: AnvilNode, proxy: TcpProxy
) -> None:
    # The wrong-chain endpoint is unreachable while the pool opens, so its chain is unknown; when the
    # right endpoint dies later, the pool must check it before sending it anything.
    wrong = await proxy_to(other_chain)
    try:
        await wrong.hang_up()
        async with RpcPool([proxy.url, wrong.url], DEVNET.chain_id, CONFIG) as pool:
            assert not pool.endpoints[1].chain_verified
            wrong.heal()
            await proxy.stop()
            with pytest.raises(ChainUnreachableError):
                await pool.call("eth_chainId")
            assert pool.endpoints[1].wrong_chain == OTHER_CHAIN
    finally:
        await wrong.stop()


@pytest.mark.parametrize("with_dead_endpoint", [False, True])
async def test_only_another_chain_fails_closed_at_open(
    other_chain: AnvilNode, with_dead_endpoint: bool
) -> None:
    urls = [dead_url(), other_chain.rpc_url] if with_dead_endpoint else [other_chain.rpc_url]
    with pytest.raises(WrongChainError, match=str(OTHER_CHAIN)):
        async with RpcPool(urls, DEVNET.chain_id, CONFIG):
            pass


# --- unreachable -----------------------------------------------------------------------------------


async def test_all_endpoints_down_at_open_is_unreachable() -> None:
    with pytest.raises(ChainUnreachableError), anyio.fail_after(20):
        async with RpcPool([dead_url(), dead_url()], DEVNET.chain_id, CONFIG):
            pass


async def test_all_endpoints_dying_after_open_is_unreachable(proxy: TcpProxy, second_proxy: TcpProxy) -> None:
    async with RpcPool([proxy.url, second_proxy.url], DEVNET.chain_id, CONFIG) as pool:
        assert await pool.call("eth_chainId") == hex(DEVNET.chain_id)
        await proxy.stop()
        await second_proxy.stop()
        with anyio.fail_after(20):
            with pytest.raises(ChainUnreachableError):
                await pool.call("eth_chainId")
            with pytest.raises(ChainUnreachableError):
                await pool.batch([("eth_chainId", [])])


# --- JSON-RPC errors and the breaker ---------------------------------------------------------------


async def test_a_json_rpc_error_is_not_retried_on_another_endpoint(
    proxy: TcpProxy, second_proxy: TcpProxy
) -> None:
    async with RpcPool([proxy.url, second_proxy.url], DEVNET.chain_id, CONFIG) as pool:
        before = proxy.requests + second_proxy.requests
        with pytest.raises(JsonRpcError) as info:
            await pool.call("eth_notAMethod", [])
        assert info.value.rpc_code == -32601
        with pytest.raises(JsonRpcError):  # a revert is an answer, too
            await pool.call("eth_call", [{"to": "0x" + "00" * 19 + "01", "data": "0x00"}, "0x999999999"])
        assert proxy.requests + second_proxy.requests == before + 2
        assert [e.health.state for e in pool.endpoints] == [BreakerState.CLOSED] * 2
        assert [e.health.consecutive_failures for e in pool.endpoints] == [0, 0]


async def test_the_breaker_skips_a_dead_endpoint_after_the_threshold(
    anvil: AnvilNode, proxy: TcpProxy
) -> None:
    clock = Clock()
    async with RpcPool([proxy.url, anvil.rpc_url], DEVNET.chain_id, CONFIG) as pool:
        primary = pool.endpoints[0]
        primary.health.clock = clock
        prefer(pool, proxy.url)
        await pool.call("eth_chainId")
        await proxy.hang_up()
        before = proxy.requests

        reads = 0
        while primary.health.state is not BreakerState.OPEN:
            assert await pool.call("eth_chainId") == hex(DEVNET.chain_id)
            reads += 1
            assert reads <= CONFIG.failure_threshold
        reached = proxy.requests - before
        assert 1 <= reached <= CONFIG.failure_threshold
        assert primary.health.consecutive_failures == CONFIG.failure_threshold

        for _ in range(50):
            prefer(pool, proxy.url)
            assert await pool.call("eth_chainId") == hex(DEVNET.chain_id)
        assert proxy.requests - before == reached, "an open breaker sends nothing"

        # After the cooldown, concurrent requests let exactly one probe through; it fails again.
        clock.now += CONFIG.cooldown_s
        prefer(pool, proxy.url)
        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(pool.call, "eth_chainId")
        assert proxy.requests - before == reached + 1
        assert primary.health.state is BreakerState.OPEN

        # The next probe, once the endpoint is back, closes the breaker and traffic returns.
        proxy.heal()
        clock.now += CONFIG.cooldown_s
        prefer(pool, proxy.url)
        assert await pool.call("eth_chainId") == hex(DEVNET.chain_id)
        assert state_of(primary) is BreakerState.CLOSED
        assert proxy.requests - before == reached + 2
        prefer(pool, proxy.url)
        await pool.call("eth_chainId")
        assert proxy.requests - before == reached + 3
