"""Segment validation (SPEC §3.2 rules 1-7): exact errors, from the vectors' negative cases."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from tests.integration.zerog_client.storage_node.harness import (
    Chain,
    error,
    load_vectors,
    pattern,
    result,
    segment_json,
    wait_until,
)
from zerog_client.devnet.storage_node import StorageNode
from zerog_client.storage import FileTree

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

_VECTORS = load_vectors()
_NEGATIVE = _VECTORS["node_validation_negative_cases"]["cases"]
_DATA = pattern(1_000_000)
_TREE = FileTree.from_bytes(_DATA)


def _mutate(case: str) -> dict[str, Any]:
    # Each case names its mutation of the valid last segment (index 3 of the 1 000 000 B file).
    segment = copy.deepcopy(segment_json(_TREE, _DATA, 3))
    raw = base64.b64decode(segment["data"])
    if "index=4" in case:
        segment["index"] = 4
    elif "first 213504 bytes" in case:
        segment["data"] = base64.b64encode(raw[:213_504]).decode()
    elif "first 213759 bytes" in case:
        segment["data"] = base64.b64encode(raw[:213_759]).decode()
    elif "path=[true,false]" in case:
        segment["proof"]["path"] = [True, False]
    elif "lemma[1]=0x00..00" in case:
        segment["proof"]["lemma"][1] = "0x" + "00" * 32
    elif "drop last lemma entry" in case:
        segment["proof"]["lemma"] = segment["proof"]["lemma"][:-1]
    elif "fileSize=0" in case:
        segment["fileSize"] = 0
    else:
        raise AssertionError(f"unknown mutation: {case}")
    return segment


@pytest.mark.parametrize("case", _NEGATIVE, ids=[c["case"].split(" [")[0] for c in _NEGATIVE])
async def test_negative_cases_before_the_tx(storage: StorageNode, case: dict[str, Any]) -> None:
    """The vectors assume the tx is unknown (cache path), as here."""
    assert await error(storage.url, "zgs_uploadSegment", [_mutate(case["case"])]) == case["expected_error"]


async def test_negative_cases_with_the_tx_known(storage: StorageNode, chain: Chain) -> None:
    seq = await chain.submit(_TREE)

    async def synced() -> bool:
        return await result(storage.url, "zgs_getFileInfoByTxSeq", [seq]) is not None

    await wait_until(synced)
    for case in _NEGATIVE:
        expected = case["expected_error"]
        if "fileSize=0" in case["case"]:
            # With a known tx the size check against the tx comes first (the vectors' assumption).
            expected = {
                "code": -32602,
                "message": "Invalid params: file_size",
                "data": "segment file size not matched with tx file size",
            }
        assert await error(storage.url, "zgs_uploadSegmentByTxSeq", [_mutate(case["case"]), seq]) == expected
    # None of the rejected segments was stored.
    info = await result(storage.url, "zgs_getFileInfoByTxSeq", [seq])
    assert info["uploadedSegNum"] == 0
    assert info["finalized"] is False


async def test_empty_data_and_large_uncached_file(storage: StorageNode) -> None:
    segment = segment_json(_TREE, _DATA, 0) | {"data": ""}
    assert await error(storage.url, "zgs_uploadSegment", [segment]) == {
        "code": -32000,
        "message": "data is empty",
    }
    big = segment_json(_TREE, _DATA, 0) | {"fileSize": 10 * 1024 * 1024 + 1}
    assert await error(storage.url, "zgs_uploadSegment", [big]) == {
        "code": -32602,
        "message": "Invalid params: file_size",
        "data": "caching of large file when tx is unavailable is not supported",
    }


async def test_padding_range_sibling_is_checked(storage: StorageNode) -> None:
    """Rule 6: a proof whose right sibling lies wholly in flow padding must carry the zero root."""
    # 17 segments of data: padded to 18 segments, so segment 16's sibling (17) is pure padding.
    data = pattern(16 * 262_144 + 1000)
    tree = FileTree.from_bytes(data)
    assert tree.layout.num_padded_segments == 18
    assert tree.layout.num_segments == 17
    segment = segment_json(tree, data, 16)
    assert segment["proof"]["path"][0] is True
    segment["proof"]["lemma"][1] = "0x" + "ab" * 32
    err = await error(storage.url, "zgs_uploadSegment", [segment])
    # The tampered sibling also breaks the hash chain; either way the segment must be refused.
    assert err["code"] in (-32000, -32602)
    assert await result(storage.url, "zgs_uploadSegment", [segment_json(tree, data, 16)]) is None


async def test_malformed_requests(storage: StorageNode) -> None:
    assert (await error(storage.url, "zgs_nope", []))["code"] == -32601
    assert (await error(storage.url, "zgs_uploadSegment", [{"root": "0x00"}]))["code"] == -32602
    assert (await error(storage.url, "zgs_getFileInfoByTxSeq", []))["code"] == -32602
    assert (await error(storage.url, "zgs_getFileInfo", ["not-a-hash", True]))["code"] == -32602
