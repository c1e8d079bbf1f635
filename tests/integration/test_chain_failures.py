"""The chain reader refuses the wrong chain and reports an unreachable one with a stable code."""

from __future__ import annotations

import pytest

from tests.support.processes import free_port
from zerog_client import ChainReader, ChainUnreachableError, WrongChainError
from zerog_client.devnet import AnvilNode
from zgvoice.runtime import open_runtime
from zgvoice.settings import load_settings

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


async def test_wrong_chain_id_is_refused(anvil: AnvilNode) -> None:
    with pytest.raises(WrongChainError, match="16602"):
        async with ChainReader(anvil.rpc_url, 16602):
            pass


async def test_unreachable_chain_has_a_stable_code() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ChainUnreachableError) as err:
        async with ChainReader(url, 1_660_999, timeout_s=2):
            pass
    assert err.value.code == "chain_unreachable"
    assert url in err.value.message


async def test_chain_going_away_mid_session_becomes_a_spoken_apology() -> None:
    from zgvoice.devnet import devnet_node
    from zgvoice.settings import DevnetSettings

    node = devnet_node(DevnetSettings(port=0))
    node.start()
    try:
        settings = load_settings(chain={"rpc_url": node.rpc_url, "request_timeout_s": 2})
        async with open_runtime(settings) as runtime:
            node.stop()
            result = await runtime.service.ask("what is my balance", speak=False)
            healthy, details = await runtime.health()
    finally:
        node.stop()
    error = result.outcome.results[0].error
    assert error is not None
    assert error.code == "chain_unreachable"
    assert "can't reach the 0G chain" in result.outcome.reply
    assert not healthy
    assert details["chain"]["error"] == "chain_unreachable"
