"""The storage node following our real devnet Flow contract (`DevFlow`) instead of the emitter."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.integration.conftest import CHAIN_ID
from tests.integration.zerog_client.storage_node.harness import (
    mined,
    pattern,
    result,
    segment_json,
    wait_until,
)
from zerog_client.devnet import AnvilNode
from zerog_client.devnet.contracts import DEVNET_PRICE_PER_SECTOR, deploy_devnet_contracts
from zerog_client.devnet.storage_node import StorageNode, StorageNodeConfig
from zerog_client.storage import FileTree, Submission, SubmissionData, encode_submit_calldata

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


async def test_node_follows_devflow_submits(node: AnvilNode, tmp_path: Path) -> None:
    accounts = await result(node.rpc_url, "eth_accounts", [])
    contracts = await deploy_devnet_contracts(node.rpc_url, accounts[0], expected_chain_id=CHAIN_ID)
    storage = StorageNode(
        StorageNodeConfig(
            data_dir=tmp_path / "node",
            rpc_url=node.rpc_url,
            chain_id=CHAIN_ID,
            flow_address=contracts.flow,
            poll_interval_s=0.05,
        )
    )
    await storage.start()
    try:
        files = [pattern(257), pattern(262_145)]
        for seq, data in enumerate(files):
            tree = FileTree.from_bytes(data)
            submission = Submission(SubmissionData(len(data), b"", tree.nodes), accounts[0])
            call = {
                "from": accounts[0],
                "to": contracts.flow,
                "data": "0x" + encode_submit_calldata(submission).hex(),
                "value": hex(submission.data.sectors * DEVNET_PRICE_PER_SECTOR),
            }
            receipt = await mined(node.rpc_url, await result(node.rpc_url, "eth_sendTransaction", [call]))
            assert receipt["status"] == "0x1"

            async def synced(seq: int = seq) -> bool:
                return await result(storage.url, "zgs_getFileInfoByTxSeq", [seq]) is not None

            await wait_until(synced)
            segments = [segment_json(tree, data, i) for i in range(tree.layout.num_segments)]
            await result(storage.url, "zgs_uploadSegmentsByTxSeq", [segments, seq])
        # SPEC §2.5's fresh-flow placement: 257 B at sector 2, then 262 145 B at 1024.
        first = await result(storage.url, "zgs_getFileInfoByTxSeq", [0])
        second = await result(storage.url, "zgs_getFileInfoByTxSeq", [1])
        assert first["tx"]["startEntryIndex"] == 2
        assert second["tx"]["startEntryIndex"] == 1024
        assert first["finalized"] is True
        assert second["finalized"] is True
        got = await result(storage.url, "zgs_downloadSegmentByTxSeq", [1, 1024, 1025])
        assert base64.b64decode(got) == b"\x64" + bytes(255)
        status = await result(storage.url, "zgs_getStatus", [])
        assert status["nextTxSeq"] == 2
        root, length = await result(storage.url, "zgs_getFlowContext", [])
        assert length == 1024 + 1152
        assert root.startswith("0x")
        assert len(root) == 66
    finally:
        await storage.stop()
