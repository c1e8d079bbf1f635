"""The chain server driven by the MCP Inspector's CLI mode: a client none of us wrote."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import ZGV, zgv_env
from zerog_client.devnet import AnvilNode

pytestmark = pytest.mark.integration

INSPECTOR = Path(__file__).resolve().parents[3] / "tools" / "npm" / "node_modules" / ".bin" / "mcp-inspector"
OTHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def inspector(anvil: AnvilNode, *method: str) -> dict[str, object]:
    assert INSPECTOR.exists(), "the MCP Inspector is installed by scripts/setup.sh (tools/npm)"
    env = zgv_env()
    done = subprocess.run(
        [
            str(INSPECTOR),
            "--cli",
            str(ZGV),
            "mcp",
            "chain",
            "-e",
            f"ZGV_CHAIN__RPC_URL={anvil.rpc_url}",
            "-e",
            "ZGV_LOG__LEVEL=WARNING",
            *method,
        ],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return dict(json.loads(done.stdout))


def test_the_inspector_lists_our_tools(anvil: AnvilNode) -> None:
    listed = inspector(anvil, "--method", "tools/list")
    names = {tool["name"] for tool in listed["tools"]}  # type: ignore[attr-defined]
    assert {"chain_info", "get_balance", "get_block", "read_contract"} <= names


def test_the_inspector_calls_a_read_tool(anvil: AnvilNode) -> None:
    called = inspector(
        anvil, "--method", "tools/call", "--tool-name", "get_balance", "--tool-arg", f"address={OTHER}"
    )
    assert called["isError"] is False
    structured = called["structuredContent"]
    assert isinstance(structured, dict)
    assert structured["address"] == OTHER
    assert int(structured["balance_neuron"]) > 0
