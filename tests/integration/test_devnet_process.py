"""`zgv devnet` starts anvil, serves the devnet chain, and leaves no process behind however it ends."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.integration.test_ask_path import rpc
from tests.support.cli import ZGV, zgv_env
from tests.support.processes import is_alive, wait_until
from zerog_client import DEVNET

pytestmark = pytest.mark.integration


@contextmanager
def running_devnet(*extra: str) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, object]]]:
    """`zgv devnet` with its ready line parsed; killed on exit if the test left it running."""
    with subprocess.Popen(
        [str(ZGV), "devnet", "--port", "0", "--json", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=zgv_env(),
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()  # the ready line; b"" if the process died
            assert line, process.stderr.read().decode() if process.stderr else "no output"
            yield process, json.loads(line)
        finally:
            if process.poll() is None:
                process.kill()


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_devnet_stops_anvil_on_ctrl_c_and_sigterm(stop_signal: signal.Signals) -> None:
    with running_devnet() as (process, info):
        anvil_pid = int(str(info["pid"]))
        assert info["chain_id"] == DEVNET.chain_id
        assert int(rpc(str(info["rpc_url"]), "eth_chainId"), 16) == DEVNET.chain_id
        assert len(list(info["accounts"])) == 10  # type: ignore[call-overload]
        assert is_alive(anvil_pid)
        contracts = info["contracts"]
        assert isinstance(contracts, dict)
        code = rpc(str(info["rpc_url"]), "eth_getCode", contracts["multicall3"], "latest")
        assert len(code) > 100  # the aggregator is deployed
        (storage_url,) = info["storage_nodes"]  # type: ignore[misc]
        status = rpc(str(storage_url), "zgs_getStatus")
        assert status["networkIdentity"]["flowAddress"].lower() == str(contracts["flow"]).lower()
        assert (
            int(rpc(str(info["indexer"]), "indexer_getShardedNodes")["trusted"][0]["config"]["numShard"]) == 1
        )
        process.send_signal(stop_signal)
        assert process.wait(timeout=15) == 0
    wait_until(lambda: not is_alive(anvil_pid), 5, "anvil to exit")


def test_devnet_killed_with_sigkill_takes_anvil_with_it() -> None:
    with running_devnet() as (process, info):
        anvil_pid = int(str(info["pid"]))
        process.kill()
        process.wait(timeout=5)
    wait_until(lambda: not is_alive(anvil_pid), 5, "anvil to die with its parent")


def test_chain_id_is_configurable() -> None:
    with running_devnet("--chain-id", "424242") as (_, info):
        assert int(rpc(str(info["rpc_url"]), "eth_chainId"), 16) == 424242


def test_port_in_use_is_a_clear_error(anvil_port_taken: int) -> None:
    done = subprocess.run(
        [str(ZGV), "devnet", "--port", str(anvil_port_taken)],
        capture_output=True,
        env=zgv_env(),
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert b"devnet_start_failed" in done.stderr
    assert b"Traceback" not in done.stderr


@pytest.fixture
def anvil_port_taken() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]
