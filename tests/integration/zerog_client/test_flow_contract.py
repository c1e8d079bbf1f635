"""Our devnet storage flow and market on a real anvil, checked against the 0G protocol notes.

Calldata, events and revert data are built and read here with eth-abi from the SPEC's type
strings, never from the contracts' own ABI, so a mistake in an artifact cannot hide itself. File
nodes come from a small helper written from SPEC §2.2/§3.6 and cross-checked against the shared
vectors; flow positions and roots from a model of SPEC §2.5 (FlowTreeLib) and of the documented
devnet flow root (`DevFlow.sol`). Every test gets a fresh anvil, so the flow starts empty.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import decode, encode
from eth_typing import ChecksumAddress
from eth_utils.abi import abi_to_signature, event_abi_to_log_topic, function_abi_to_4byte_selector
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.types import RPCEndpoint, TxParams, TxReceipt, Wei

from zerog_client.contracts import load_artifact
from zerog_client.devnet import AnvilNode
from zerog_client.devnet.contracts import (
    DEVNET_PRICE_PER_SECTOR,
    FRESH_DEVNET_FLOW,
    FRESH_DEVNET_MARKET,
    DevnetContracts,
    deploy_devnet_contracts,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[3] / ".." / "shared" / "zerog" / "vectors.json").read_text()
)

# SPEC §2.5 / §2.7 types and selectors.
SUBMISSION_DATA = "(uint256,bytes,(bytes32,uint256)[])"
SUBMISSION = f"({SUBMISSION_DATA},address)"
SUBMIT_SIG = f"submit({SUBMISSION})"
BATCH_SUBMIT_SIG = f"batchSubmit({SUBMISSION}[])"
LEGACY_SUBMIT_SIG = f"submit({SUBMISSION_DATA})"
LEGACY_BATCH_SUBMIT_SIG = f"batchSubmit({SUBMISSION_DATA}[])"
SPEC_FLOW_SELECTORS = {
    SUBMIT_SIG: "0xbc8c11f8",
    BATCH_SUBMIT_SIG: "0x49aa3395",
    LEGACY_SUBMIT_SIG: "0xef3e12dc",
    LEGACY_BATCH_SUBMIT_SIG: "0x9e62a38e",
    "market()": "0x80f55605",
    "numSubmissions()": "0x77e19824",
    "submissionIndex()": "0xb8a409ac",
    "getFlowRootByTxSeq(uint256)": "0x6d7ad0fc",
    "tree()": "0xfd54b228",
    "firstBlock()": "0x231b0268",
    "epoch()": "0x900cf0cf",
    "blocksPerEpoch()": "0xf0682054",
    "getContext()": "0x127f0f07",
    "makeContext()": "0x38d45e10",
    "paused()": "0x5c975abb",
}
SUBMIT_TOPIC = HexBytes("0x167ce04d2aa1981994d3a31695da0d785373335b1078cec239a1a3a2c7675555")
NOT_ENOUGH_FEE = HexBytes("0xf85c6482")
INVALID_SUBMISSION = HexBytes(keccak(b"Error(string)")[:4] + encode(["string"], ["Invalid submission"]))
FEE_CHARGED_TOPIC = HexBytes(keccak(b"FeeCharged(uint256,uint256,uint256,uint256)"))

SECTOR = 256
SEGMENT_SECTORS = 1024
ZERO_SECTOR_HASH = keccak(bytes(SECTOR))
# Z[h]: root of 2^h zero sectors.
ZEROS = [ZERO_SECTOR_HASH]
for _ in range(63):
    ZEROS.append(keccak(ZEROS[-1] + ZEROS[-1]))

Node = tuple[bytes, int]
"""(root, height) of one submission node."""


# --- files and submissions, from SPEC §2.2-§2.4 ----------------------------------------------------


def pattern(size: int) -> bytes:
    return bytes(i % 251 for i in range(size))


def file_nodes(data: bytes) -> list[Node]:
    """Submission nodes of `data`: flow padding, then the power-of-two split of the padded chunks."""
    chunks = (len(data) - 1) // SECTOR + 1
    p2 = 1 << (chunks - 1).bit_length()
    step = max(p2 // 16, 1)
    padded = p2 if p2 == chunks else -(-chunks // step) * step
    buf = data + bytes(padded * SECTOR - len(data))
    leaves = [keccak(buf[i : i + SECTOR]) for i in range(0, len(buf), SECTOR)]
    nodes: list[Node] = []
    offset, size = 0, p2
    while offset < padded:
        if padded - offset >= size:
            # A power-of-two run of leaves: the promote-odd tree is the full binary tree.
            level = leaves[offset : offset + size]
            while len(level) > 1:
                level = [keccak(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
            nodes.append((level[0], size.bit_length() - 1))
            offset += size
        size //= 2
    return nodes


@dataclass(frozen=True)
class Sub:
    length: int
    nodes: Sequence[Node]
    submitter: str
    tags: bytes = b""

    @property
    def sectors(self) -> int:
        return sum(1 << h for _, h in self.nodes)

    def data_value(self) -> tuple[int, bytes, tuple[Node, ...]]:
        # Tuples throughout, as eth-abi decodes them, so decoded events compare equal.
        return (self.length, self.tags, tuple(self.nodes))

    def value(self) -> tuple[tuple[int, bytes, tuple[Node, ...]], str]:
        return (self.data_value(), self.submitter)


def of_file(data: bytes, submitter: str) -> Sub:
    return Sub(len(data), file_nodes(data), submitter)


def selector(signature: str) -> bytes:
    return keccak(signature.encode())[:4]


def submit_calldata(sub: Sub) -> bytes:
    return selector(SUBMIT_SIG) + encode([SUBMISSION], [sub.value()])


def batch_calldata(subs: Sequence[Sub]) -> bytes:
    return selector(BATCH_SUBMIT_SIG) + encode([f"{SUBMISSION}[]"], [[s.value() for s in subs]])


def identity(nodes: Sequence[Node]) -> bytes:
    return keccak(b"".join(root for root, _ in nodes))


# --- the flow, from SPEC §2.5 and DevFlow's documented root ----------------------------------------


def next_align(length: int, exponent: int) -> int:
    return 0 if length == 0 else (((length - 1) >> exponent) + 1) << exponent


@dataclass
class FlowModel:
    length: int = 1
    placed: dict[int, Node] = field(default_factory=lambda: {0: (bytes(32), 0)})

    def submit(self, nodes: Sequence[Node]) -> tuple[int, int]:
        """Places `nodes` as FlowTreeLib does; returns (startPos, padding sectors before it)."""
        before = cursor = self.length
        start = next_align(cursor, nodes[0][1])
        size = sum(1 << h for _, h in nodes)
        if start % SEGMENT_SECTORS and start // SEGMENT_SECTORS != (start + size - 1) // SEGMENT_SECTORS:
            cursor = start + SEGMENT_SECTORS - start % SEGMENT_SECTORS
        positions = []
        for root, height in nodes:
            pos = next_align(cursor, height)
            self.placed[pos] = (root, height)
            positions.append(pos)
            cursor = pos + (1 << height)
        self.length = cursor
        return positions[0], positions[0] - before

    def root(self) -> bytes:
        """Promote-odd tree over all sectors: nodes where placed, zero sectors elsewhere."""
        spans = sorted((pos, pos + (1 << h)) for pos, (_, h) in self.placed.items())

        def aligned(lo: int, size: int) -> bytes:
            placed = self.placed.get(lo)
            if placed is not None and 1 << placed[1] == size:
                return placed[0]
            if not any(a < lo + size and lo < b for a, b in spans):
                return ZEROS[size.bit_length() - 1]
            half = size // 2
            return keccak(aligned(lo, half) + aligned(lo + half, half))

        def span(lo: int, n: int) -> bytes:
            if n & (n - 1) == 0:
                return aligned(lo, n)
            k = 1 << (n.bit_length() - 1)
            return keccak(aligned(lo, k) + span(lo + k, n - k))

        return span(0, self.length)


# --- chain access ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chain:
    w3: AsyncWeb3[AsyncHTTPProvider]
    contracts: DevnetContracts
    accounts: list[ChecksumAddress]

    @property
    def flow(self) -> ChecksumAddress:
        return self.contracts.flow

    @property
    def me(self) -> ChecksumAddress:
        return self.accounts[1]

    async def call(self, to: str, data: bytes, value: int = 0, sender: str | None = None) -> bytes:
        tx = _tx(sender or self.me, to, data, value)
        return bytes(await self.w3.eth.call(tx))

    async def read(self, signature: str, out: str, *args: Any, to: str | None = None) -> Any:
        types = signature[signature.index("(") + 1 : -1]
        data = selector(signature) + (encode(types.split(","), list(args)) if types else b"")
        value = decode([out], await self.call(to or self.flow, data))[0]
        return to_checksum_address(value) if out == "address" else value

    async def revert(self, to: str, data: bytes, value: int = 0, sender: str | None = None) -> HexBytes:
        """The revert data of an eth_call that must fail."""
        params = {
            "from": sender or self.me,
            "to": to,
            "data": HexBytes(data).to_0x_hex(),
            "value": hex(value),
        }
        response: Any = await self.w3.provider.make_request(RPCEndpoint("eth_call"), [params, "latest"])
        assert "error" in response, f"expected a revert, got {response.get('result')}"
        return HexBytes(response["error"]["data"])

    async def send(self, to: str, data: bytes, value: int = 0, sender: str | None = None) -> TxReceipt:
        tx_hash = await self.w3.eth.send_transaction(_tx(sender or self.me, to, data, value))
        receipt = await self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)
        assert receipt["status"] == 1
        return receipt

    async def balance(self, address: str) -> int:
        return await self.w3.eth.get_balance(to_checksum_address(address))

    async def submissions(self) -> int:
        count: int = await self.read("numSubmissions()", "uint256")
        return count


def _tx(sender: str, to: str, data: bytes, value: int) -> TxParams:
    return {
        "from": to_checksum_address(sender),
        "to": to_checksum_address(to),
        "data": HexBytes(data),
        "value": Wei(value),
    }


@dataclass(frozen=True)
class SubmitLog:
    sender: str
    identity: bytes
    index: int
    start_pos: int
    length: int
    data: tuple[int, bytes, tuple[tuple[bytes, int], ...]]


def submit_logs(chain: Chain, receipt: TxReceipt) -> list[SubmitLog]:
    found = []
    for log in receipt["logs"]:
        if log["address"] != chain.flow or log["topics"][0] != SUBMIT_TOPIC:
            continue
        assert len(log["topics"]) == 3
        index, start, length, data = decode(["uint256", "uint256", "uint256", SUBMISSION_DATA], log["data"])
        sender = to_checksum_address(log["topics"][1][12:])
        found.append(SubmitLog(sender, bytes(log["topics"][2]), index, start, length, data))
    return found


def fees_charged(chain: Chain, receipt: TxReceipt) -> list[tuple[int, int, int, int]]:
    return [
        decode(["uint256"] * 4, log["data"])
        for log in receipt["logs"]
        if log["address"] == chain.contracts.market and log["topics"][0] == FEE_CHARGED_TOPIC
    ]


def not_enough_fee(price: int, sectors: int, paid: int) -> HexBytes:
    return HexBytes(NOT_ENOUGH_FEE + encode(["uint256"] * 3, [price, sectors, paid]))


@pytest.fixture
async def chain(node: AnvilNode) -> AsyncIterator[Chain]:
    provider = AsyncHTTPProvider(node.rpc_url)
    w3 = AsyncWeb3(provider)
    accounts = list(await w3.eth.accounts)
    contracts = await deploy_devnet_contracts(node.rpc_url, accounts[0])
    yield Chain(w3, contracts, accounts)
    await provider.disconnect()


# --- tests -----------------------------------------------------------------------------------------


def test_selectors_events_and_errors_match_the_spec() -> None:
    # As eth-utils' typed ABI dicts: the artifact keeps solc's JSON as it is.
    abi: list[Any] = load_artifact("DevFlow").abi
    functions = {abi_to_signature(e): e for e in abi if e["type"] == "function"}
    for signature, expected in SPEC_FLOW_SELECTORS.items():
        assert selector(signature).hex() == expected[2:], signature
        assert "0x" + function_abi_to_4byte_selector(functions[signature]).hex() == expected
    assert {functions[s]["stateMutability"] for s in SPEC_FLOW_SELECTORS if "ubmit(" in s} == {"payable"}
    outputs = [o["type"] for o in functions[SUBMIT_SIG]["outputs"]]
    assert outputs == ["uint256", "bytes32", "uint256", "uint256"]
    (event,) = [e for e in abi if e["type"] == "event" and e["name"] == "Submit"]
    assert abi_to_signature(event) == f"Submit(address,bytes32,uint256,uint256,uint256,{SUBMISSION_DATA})"
    assert event_abi_to_log_topic(event) == SUBMIT_TOPIC == HexBytes(VECTORS["flow_abi"]["Submit_topic0"])
    assert [i["indexed"] for i in event["inputs"]] == [True, True, False, False, False, False]
    errors = [abi_to_signature(e) for e in abi if e["type"] == "error"]
    assert errors == ["NotEnoughFee(uint256,uint256,uint256)"]
    assert selector(errors[0]) == NOT_ENOUGH_FEE
    market_abi: list[Any] = load_artifact("DevMarket").abi
    market = {abi_to_signature(e) for e in market_abi if e["type"] == "function"}
    assert selector("pricePerSector()").hex() == "61ec5082"
    assert {"pricePerSector()", "chargeFee(uint256,uint256,uint256)", "setPricePerSector(uint256)"} <= market


def test_file_nodes_helper_reproduces_the_vectors() -> None:
    for name in ("1_byte_00", "257_bytes_pattern", "4096_bytes_AB", "262145_bytes_pattern"):
        case = VECTORS["files"][name]
        data = bytes.fromhex(case["data_hex"]) if "data_hex" in case else pattern(case["size"])
        expected = [(bytes.fromhex(n["root"][2:]), n["height"]) for n in case["nodes"]]
        assert file_nodes(data) == expected, name


async def test_deployed_flow_and_market(chain: Chain) -> None:
    assert (chain.flow, chain.contracts.market) == (FRESH_DEVNET_FLOW, FRESH_DEVNET_MARKET)
    market = chain.contracts.market
    assert await chain.read("market()", "address") == market
    assert await chain.read("pricePerSector()", "uint256", to=market) == DEVNET_PRICE_PER_SECTOR
    assert await chain.read("flow()", "address", to=market) == chain.flow
    assert await chain.read("owner()", "address", to=market) == chain.accounts[0]
    assert await chain.submissions() == 0
    assert await chain.read("submissionIndex()", "uint256") == 0
    assert decode(["uint256", "uint256"], await chain.call(chain.flow, selector("tree()"))) == (1, 0)
    assert await chain.read("getFlowRootByTxSeq(uint256)", "bytes32", 0) == bytes(32)
    assert await chain.read("paused()", "bool") is False
    assert await chain.read("epoch()", "uint256") == 0
    assert await chain.read("blocksPerEpoch()", "uint256") == 2**256 - 1
    first_block = await chain.read("firstBlock()", "uint256")
    assert first_block == await chain.w3.eth.block_number  # the flow was the last deployment
    context = decode(
        ["(uint256,uint256,bytes32,uint256,bytes32,bytes32)"],
        await chain.call(chain.flow, selector("getContext()")),
    )[0]
    assert context == (0, first_block, FlowModel().root(), 1, bytes(32), bytes(32))
    await chain.send(chain.flow, selector("makeContext()"))  # miners send it; it must not fail


async def test_vector_calldata_emits_the_vector_event(chain: Chain) -> None:
    vector = VECTORS["flow_abi"]["example_257B"]
    calldata = HexBytes(vector["submit_calldata"])
    fee = 2 * DEVNET_PRICE_PER_SECTOR
    digest = HexBytes(vector["identity_digest_topic2"])
    returned = decode(
        ["uint256", "bytes32", "uint256", "uint256"], await chain.call(chain.flow, calldata, fee)
    )
    assert returned == (0, digest, 2, 2)

    receipt = await chain.send(chain.flow, calldata, fee)
    expected = vector["Submit_event_if_first_tx_on_fresh_flow"]
    (log,) = [entry for entry in receipt["logs"] if entry["address"] == chain.flow]
    # Index 0 and startPos 2 depend on the flow's state; on a fresh flow they are the vector's.
    assert [HexBytes(t) for t in log["topics"]] == [HexBytes(t) for t in expected["topics"]]
    assert HexBytes(log["data"]) == HexBytes(expected["data"])
    # The submitter in the calldata (0x1111…), not the account that sent the transaction.
    assert submit_logs(chain, receipt)[0].sender == to_checksum_address(vector["submission"]["submitter"])
    assert fees_charged(chain, receipt) == [(1, 2, 1, fee)]
    assert await chain.balance(chain.contracts.market) == fee
    assert await chain.balance(chain.flow) == 0
    assert await chain.submissions() == 1


async def test_fresh_flow_start_positions_follow_the_spec_simulation(chain: Chain) -> None:
    files = {
        "257B": pattern(257),
        "262145B": pattern(262_145),
        "1B": b"\x00",
        "1000000B": pattern(1_000_000),
        "4096B": b"\xab" * 4096,
    }
    model = FlowModel()
    roots = []
    for index, step in enumerate(VECTORS["flow_position_simulation_fresh_flow"]):
        sub = of_file(files[step["file"]], chain.me)
        assert [h for _, h in sub.nodes] == step["heights"]
        receipt = await chain.send(chain.flow, submit_calldata(sub), sub.sectors * DEVNET_PRICE_PER_SECTOR)
        (log,) = submit_logs(chain, receipt)
        assert (log.index, log.start_pos, log.length) == (index, step["startPos"], step["length_sectors"])
        assert (log.sender, log.identity, log.data) == (chain.me, identity(sub.nodes), sub.data_value())
        (charge,) = fees_charged(chain, receipt)
        assert charge[1:] == (
            step["length_sectors"],
            step["padded_sectors_charged_to_padding"],
            log.length * DEVNET_PRICE_PER_SECTOR,
        )
        tree = decode(["uint256", "uint256"], await chain.call(chain.flow, selector("tree()")))
        assert tree[0] == step["currentLength_after"]
        first, last = step["segment_range"]
        assert (log.start_pos // SEGMENT_SECTORS, (log.start_pos + log.length - 1) // SEGMENT_SECTORS) == (
            first,
            last,
        )
        assert model.submit(sub.nodes) == (step["startPos"], step["padded_sectors_charged_to_padding"])
        roots.append(await chain.read("getFlowRootByTxSeq(uint256)", "bytes32", index))
        assert roots[-1] == model.root()
    assert len(set(roots)) == len(roots)
    assert await chain.submissions() == 5
    # Earlier roots are kept, not overwritten, and the next tx seq has none yet.
    assert await chain.read("getFlowRootByTxSeq(uint256)", "bytes32", 0) == roots[0]
    assert await chain.read("getFlowRootByTxSeq(uint256)", "bytes32", 5) == bytes(32)


async def test_a_submission_never_straddles_a_segment(chain: Chain) -> None:
    model = FlowModel()
    # Sectors 256..959 filled by nodes of 256, 256, 128 and 64 sectors: the flow ends at 960.
    for height in (8, 8, 7, 6):
        sub = Sub((1 << height) * SECTOR, [(keccak(bytes([height])), height)], chain.me)
        await chain.send(chain.flow, submit_calldata(sub), sub.sectors * DEVNET_PRICE_PER_SECTOR)
        model.submit(sub.nodes)
    assert model.length == 960
    # 80 sectors ([64, 16]) aligned at 960 would end in segment 1: it moves to 1024 instead.
    sub = Sub(80 * SECTOR, [(keccak(b"a"), 6), (keccak(b"b"), 4)], chain.me)
    receipt = await chain.send(chain.flow, submit_calldata(sub), sub.sectors * DEVNET_PRICE_PER_SECTOR)
    (log,) = submit_logs(chain, receipt)
    assert model.submit(sub.nodes) == (1024, 64)
    assert (log.index, log.start_pos, log.length) == (4, 1024, 80)
    assert fees_charged(chain, receipt)[0][:3] == (960, 80, 64)
    assert await chain.read("getFlowRootByTxSeq(uint256)", "bytes32", 4) == model.root()
    # A small one fits in the rest of segment 1 after it, unmoved.
    small = Sub(SECTOR, [(keccak(b"c"), 0)], chain.me)
    receipt = await chain.send(chain.flow, submit_calldata(small), DEVNET_PRICE_PER_SECTOR)
    assert submit_logs(chain, receipt)[0].start_pos == model.submit(small.nodes)[0] == 1104


async def test_fee_is_checked_against_the_flow_balance(chain: Chain) -> None:
    price = DEVNET_PRICE_PER_SECTOR
    sub = of_file(pattern(257), chain.me)  # 2 sectors
    fee = 2 * price
    data = await chain.revert(chain.flow, submit_calldata(sub), fee - 1)
    assert data[:4] == NOT_ENOUGH_FEE
    assert decode(["uint256"] * 3, data[4:]) == (price, 2, fee - 1)
    assert await chain.revert(chain.flow, submit_calldata(sub)) == not_enough_fee(price, 2, 0)

    await chain.send(chain.flow, submit_calldata(sub), fee)
    assert (await chain.balance(chain.flow), await chain.balance(chain.contracts.market)) == (0, fee)

    # Overpaying by one sector's price: the surplus stays in the flow, and pays a later 1-sector file.
    await chain.send(chain.flow, submit_calldata(sub), fee + price)
    assert (await chain.balance(chain.flow), await chain.balance(chain.contracts.market)) == (price, 2 * fee)
    one = of_file(b"\x01", chain.me)
    await chain.send(chain.flow, submit_calldata(one), 0)
    assert await chain.balance(chain.flow) == 0
    assert await chain.revert(chain.flow, submit_calldata(one)) == not_enough_fee(price, 1, 0)
    assert await chain.submissions() == 3


async def test_price_changes_are_owner_only_and_apply_to_the_next_fee(chain: Chain) -> None:
    market, owner = chain.contracts.market, chain.accounts[0]
    set_price = selector("setPricePerSector(uint256)") + encode(["uint256"], [7])
    outsider_error = selector("NotOwner(address)") + encode(["address"], [chain.me])
    assert await chain.revert(market, set_price, sender=chain.me) == outsider_error
    await chain.send(market, set_price, sender=owner)
    assert await chain.read("pricePerSector()", "uint256", to=market) == 7
    sub = of_file(pattern(4096), chain.me)  # 16 sectors
    assert await chain.revert(chain.flow, submit_calldata(sub), 111) == not_enough_fee(7, 16, 111)
    await chain.send(chain.flow, submit_calldata(sub), 112)
    # Only the flow may charge fees.
    charge = selector("chargeFee(uint256,uint256,uint256)") + encode(["uint256"] * 3, [1, 2, 3])
    assert await chain.revert(market, charge, 5, sender=owner) == selector("NotFlow(address)") + encode(
        ["address"], [owner]
    )


async def test_batch_submit_places_each_in_order(chain: Chain) -> None:
    others = chain.accounts[2:4]
    subs = [
        of_file(pattern(257), chain.me),
        of_file(pattern(262_145), others[0]),
        of_file(b"\x00", others[1]),
    ]
    fees = [s.sectors * DEVNET_PRICE_PER_SECTOR for s in subs]
    calldata = batch_calldata(subs)
    # One short: the last inner submit sees only what the first two left in the balance.
    assert await chain.revert(chain.flow, calldata, sum(fees) - 1) == not_enough_fee(
        DEVNET_PRICE_PER_SECTOR, 1, fees[2] - 1
    )
    returned = decode(
        ["uint256[]", "bytes32[]", "uint256[]", "uint256[]"],
        await chain.call(chain.flow, calldata, sum(fees)),
    )
    receipt = await chain.send(chain.flow, calldata, sum(fees))
    model = FlowModel()
    starts = [model.submit(s.nodes)[0] for s in subs]
    assert starts == [2, 1024, 2176]
    logs = submit_logs(chain, receipt)
    assert [(log.index, log.start_pos, log.length, log.sender) for log in logs] == [
        (i, starts[i], subs[i].sectors, subs[i].submitter) for i in range(3)
    ]
    assert returned == (
        (0, 1, 2),
        tuple(identity(s.nodes) for s in subs),
        tuple(starts),
        tuple(s.sectors for s in subs),
    )
    assert await chain.submissions() == 3
    assert await chain.read("getFlowRootByTxSeq(uint256)", "bytes32", 2) == model.root()
    assert await chain.balance(chain.contracts.market) == sum(fees)


async def test_legacy_abi_takes_the_caller_as_submitter(chain: Chain) -> None:
    sub = of_file(pattern(257), chain.me)
    legacy = selector(LEGACY_SUBMIT_SIG) + encode([SUBMISSION_DATA], [sub.data_value()])
    receipt = await chain.send(
        chain.flow, legacy, sub.sectors * DEVNET_PRICE_PER_SECTOR, sender=chain.accounts[3]
    )
    (log,) = submit_logs(chain, receipt)
    assert (log.sender, log.start_pos, log.identity) == (chain.accounts[3], 2, identity(sub.nodes))
    batch = selector(LEGACY_BATCH_SUBMIT_SIG) + encode([f"{SUBMISSION_DATA}[]"], [[sub.data_value()] * 2])
    receipt = await chain.send(chain.flow, batch, 2 * sub.sectors * DEVNET_PRICE_PER_SECTOR)
    assert [(log.index, log.sender) for log in submit_logs(chain, receipt)] == [(1, chain.me), (2, chain.me)]


async def test_random_submissions_match_the_model(chain: Chain) -> None:
    # Seeded, so a failure replays; mixes single submits and batches of node shapes of every kind.
    rng = random.Random(1660999)
    model = FlowModel()
    index = 0
    for _ in range(12):
        batch = [random_submission(rng, chain.me) for _ in range(rng.choice((1, 1, 3)))]
        value = sum(s.sectors for s in batch) * DEVNET_PRICE_PER_SECTOR
        calldata = submit_calldata(batch[0]) if len(batch) == 1 else batch_calldata(batch)
        receipt = await chain.send(chain.flow, calldata, value)
        logs = submit_logs(chain, receipt)
        assert [(log.index, log.start_pos) for log in logs] == [
            (index + i, model.submit(s.nodes)[0]) for i, s in enumerate(batch)
        ]
        index += len(batch)
        assert await chain.read("getFlowRootByTxSeq(uint256)", "bytes32", index - 1) == model.root()
    tree = decode(["uint256", "uint256"], await chain.call(chain.flow, selector("tree()")))
    assert tree == (model.length, (model.length - 1).bit_length())


def random_submission(rng: random.Random, submitter: str) -> Sub:
    """A valid submission: 1-4 strictly decreasing heights within 4 levels, a length that needs them."""
    first = rng.randrange(0, 13)
    heights = [first] + sorted(
        rng.sample(range(max(first - 3, 0), first), rng.randrange(0, min(first, 3) + 1)), reverse=True
    )
    capacity = sum(1 << h for h in heights)
    if capacity < 16:
        last = capacity - 1
    elif len(heights) == 1:
        last = capacity - capacity // 16
    else:
        last = capacity - (1 << (first - 3))
    length = rng.randrange(last * SECTOR + 1, capacity * SECTOR + 1)
    return Sub(length, [(rng.randbytes(32), h) for h in heights], submitter)


def _root(tag: int) -> bytes:
    return keccak(tag.to_bytes(32, "big"))


ZERO_ADDRESS = "0x" + "00" * 20
INVALID = {
    "zero submitter": Sub(257, [(_root(1), 1)], ZERO_ADDRESS),
    "no nodes": Sub(1, [], ""),
    "height 64": Sub(2**64 * SECTOR, [(_root(1), 64)], ""),
    "equal heights": Sub(8 * SECTOR, [(_root(1), 2), (_root(2), 2)], ""),
    "increasing heights": Sub(12 * SECTOR, [(_root(1), 2), (_root(2), 3)], ""),
    "four levels apart": Sub(1088 * SECTOR, [(_root(1), 10), (_root(2), 6)], ""),
    "length beyond the nodes": Sub(257, [(_root(1), 0)], ""),
    "zero length": Sub(0, [(_root(1), 0)], ""),
    "two sectors for one": Sub(256, [(_root(1), 1)], ""),
    "one node, too much padding": Sub(15 * 16 * SECTOR, [(_root(1), 8)], ""),
    "two nodes, too much padding": Sub(1024 * SECTOR, [(_root(1), 10), (_root(2), 7)], ""),
}
VALID_EDGES = {
    "least bytes, one node": Sub(15 * 16 * SECTOR + 1, [(_root(1), 8)], ""),
    "least bytes, two nodes": Sub(1024 * SECTOR + 1, [(_root(1), 10), (_root(2), 7)], ""),
    "four nodes under 16 sectors": Sub(14 * SECTOR + 1, [(_root(i), 3 - i) for i in range(4)], ""),
    "tags are opaque": Sub(SECTOR, [(_root(1), 0)], "", tags=b"\x00\xff" * 40),
}


@pytest.mark.parametrize("case", INVALID, ids=list(INVALID))
async def test_invalid_submissions_are_rejected(chain: Chain, case: str) -> None:
    sub = INVALID[case]
    sub = Sub(sub.length, sub.nodes, sub.submitter or chain.me, sub.tags)
    big_value = 10**20  # the fee is not what fails
    assert await chain.revert(chain.flow, submit_calldata(sub), big_value) == INVALID_SUBMISSION
    assert await chain.submissions() == 0


@pytest.mark.parametrize("case", VALID_EDGES, ids=list(VALID_EDGES))
async def test_edge_submissions_are_accepted(chain: Chain, case: str) -> None:
    sub = VALID_EDGES[case]
    sub = Sub(sub.length, sub.nodes, chain.me, sub.tags)
    receipt = await chain.send(chain.flow, submit_calldata(sub), sub.sectors * DEVNET_PRICE_PER_SECTOR)
    (log,) = submit_logs(chain, receipt)
    assert log.data == sub.data_value()
    assert await chain.submissions() == 1


async def test_an_invalid_submission_mined_anyway_reverts_and_changes_nothing(chain: Chain) -> None:
    sub = Sub(257, [(_root(1), 0)], chain.me)
    # An explicit gas limit skips estimation, so the node mines the failing transaction.
    tx = _tx(chain.me, chain.flow, submit_calldata(sub), 10**18)
    tx["gas"] = 500_000
    tx_hash = await chain.w3.eth.send_transaction(tx)
    receipt = await chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)
    assert receipt["status"] == 0
    assert await chain.submissions() == 0
    assert await chain.balance(chain.flow) == 0
    assert decode(["uint256", "uint256"], await chain.call(chain.flow, selector("tree()"))) == (1, 0)
