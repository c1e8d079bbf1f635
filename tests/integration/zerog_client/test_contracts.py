"""Our contracts for real: a fresh solc-js compile reproduces the artifacts, and on anvil Multicall3
and the test token behave as clients expect (results, reverts, events).

Tests on the shared session node deploy from its last dev account, so account 0 (the one the
runtime uses as "me") keeps its nonce and balance for other tests; every test deploys its own
copies, so token state never leaks between tests.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import decode, encode
from eth_typing import ChecksumAddress
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.contract import AsyncContract
from web3.contract.async_contract import AsyncContractFunction
from web3.exceptions import ContractLogicError
from web3.types import RPCEndpoint, TxParams, TxReceipt, Wei

from zerog_client.contracts import load_artifact
from zerog_client.contracts.compile import (
    ARTIFACT_DIR,
    compile_sources,
    find_compiler,
    main,
    write_artifacts,
)
from zerog_client.devnet import AnvilNode
from zerog_client.devnet.contracts import (
    FRESH_DEVNET_DEPLOYER,
    FRESH_DEVNET_FLOW,
    FRESH_DEVNET_MARKET,
    FRESH_DEVNET_MULTICALL3,
    FRESH_DEVNET_TEST_TOKEN,
    TEST_TOKEN_SUPPLY,
    DevnetContracts,
    deploy_devnet_contracts,
)
from zerog_client.errors import WrongChainError
from zerog_client.networks import DEVNET
from zgvoice.devnet import devnet_node
from zgvoice.settings import PROJECT_ROOT, DevnetSettings

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

ZERO = to_checksum_address("0x" + "00" * 20)
MAX_UINT = 2**256 - 1


# --- compiling -------------------------------------------------------------------------------------


def test_fresh_compile_writes_byte_identical_artifacts(tmp_path: Path) -> None:
    # No skip when node or solc-js is missing: the set-up installs both, and a missing compiler
    # must fail here rather than let stale artifacts through.
    result = compile_sources(find_compiler())
    assert result.warnings == []
    (tmp_path / "Removed.json").write_text("{}")
    write_artifacts(result, tmp_path)
    committed = {p.name: p.read_bytes() for p in ARTIFACT_DIR.glob("*.json")}
    fresh = {p.name: p.read_bytes() for p in tmp_path.glob("*.json")}
    assert fresh == committed


def test_check_mode_passes_on_the_committed_artifacts() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "zerog_client.contracts.compile", "--check"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout


def test_check_mode_fails_on_tampered_missing_or_orphaned_artifacts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(ARTIFACT_DIR, tmp_path, dirs_exist_ok=True)
    token = tmp_path / "TestToken.json"
    token.write_text(token.read_text().replace('"runs": 200', '"runs": 201'))
    (tmp_path / "Multicall3.json").unlink()
    (tmp_path / "Orphan.json").write_text("{}")
    assert main(["--check", "--out-dir", str(tmp_path)]) == 1
    assert "Multicall3.json, Orphan.json, TestToken.json" in capsys.readouterr().err


# --- deploying -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chain:
    w3: AsyncWeb3[AsyncHTTPProvider]
    contracts: DevnetContracts
    multicall: AsyncContract
    token: AsyncContract
    accounts: list[ChecksumAddress]

    @property
    def deployer(self) -> ChecksumAddress:
        return self.contracts.deployer


@pytest.fixture
async def w3(anvil: AnvilNode) -> AsyncIterator[AsyncWeb3[AsyncHTTPProvider]]:
    provider = AsyncHTTPProvider(anvil.rpc_url)
    yield AsyncWeb3(provider)
    await provider.disconnect()


@pytest.fixture
async def chain(anvil: AnvilNode, w3: AsyncWeb3[AsyncHTTPProvider]) -> Chain:
    accounts = list(await w3.eth.accounts)
    contracts = await deploy_devnet_contracts(anvil.rpc_url, accounts[-1])
    return Chain(
        w3=w3,
        contracts=contracts,
        multicall=w3.eth.contract(contracts.multicall3, abi=load_artifact("Multicall3").abi),
        token=w3.eth.contract(contracts.test_token, abi=load_artifact("TestToken").abi),
        accounts=accounts,
    )


def random_address() -> ChecksumAddress:
    return to_checksum_address(secrets.token_bytes(20))


def custom_error(signature: str, *values: Any) -> HexBytes:
    """Revert data of a Solidity custom error, built independently of the contract's ABI."""
    types = signature[signature.index("(") + 1 : -1].split(",") if not signature.endswith("()") else []
    return HexBytes(function_signature_to_4byte_selector(signature) + encode(types, list(values)))


async def revert_data(call: Awaitable[object]) -> HexBytes:
    with pytest.raises(ContractLogicError) as info:
        await call
    assert isinstance(info.value.data, str)
    return HexBytes(info.value.data)


async def send(chain: Chain, function: AsyncContractFunction, sender: str) -> TxReceipt:
    tx_hash = await function.transact({"from": sender})
    receipt = await chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)
    assert receipt["status"] == 1
    return receipt


async def test_fresh_devnet_gets_the_documented_addresses() -> None:
    with devnet_node(DevnetSettings(port=0)) as node:
        provider = AsyncHTTPProvider(node.rpc_url)
        try:
            assert (await AsyncWeb3(provider).eth.accounts)[0] == FRESH_DEVNET_DEPLOYER
        finally:
            await provider.disconnect()
        deployed = await deploy_devnet_contracts(node.rpc_url, FRESH_DEVNET_DEPLOYER)
    assert deployed == DevnetContracts(
        chain_id=DEVNET.chain_id,
        deployer=FRESH_DEVNET_DEPLOYER,
        multicall3=FRESH_DEVNET_MULTICALL3,
        test_token=FRESH_DEVNET_TEST_TOKEN,
        flow=FRESH_DEVNET_FLOW,
        market=FRESH_DEVNET_MARKET,
    )


async def test_deploy_refuses_another_chain(anvil: AnvilNode, w3: AsyncWeb3[AsyncHTTPProvider]) -> None:
    before = await w3.eth.block_number
    with pytest.raises(WrongChainError):
        await deploy_devnet_contracts(anvil.rpc_url, FRESH_DEVNET_DEPLOYER, expected_chain_id=16602)
    assert await w3.eth.block_number == before


async def test_deployed_code_and_token_metadata(chain: Chain) -> None:
    # Multicall3 has no immutables, so its code on chain is exactly the artifact's runtime code.
    code = await chain.w3.eth.get_code(chain.contracts.multicall3)
    assert bytes(code) == load_artifact("Multicall3").deployed_bytecode
    token = chain.token.functions
    assert await token.name().call() == "Test USD"
    assert await token.symbol().call() == "TUSD"
    assert await token.decimals().call() == 6
    assert await token.owner().call() == chain.deployer
    assert await token.totalSupply().call() == TEST_TOKEN_SUPPLY == 10**12
    assert await token.balanceOf(chain.deployer).call() == TEST_TOKEN_SUPPLY
    # The constructor's mint is a Transfer from the zero address, as indexers expect.
    logs = await chain.token.events.Transfer.get_logs(from_block=0)
    assert [dict(log["args"]) for log in logs] == [
        {"from": ZERO, "to": chain.deployer, "value": TEST_TOKEN_SUPPLY}
    ]


# --- Multicall3 ------------------------------------------------------------------------------------


async def test_aggregate3_balances_match_eth_get_balance(anvil: AnvilNode, chain: Chain) -> None:
    funded = [random_address() for _ in range(3)]
    for i, address in enumerate(funded):
        balance = hex((i + 1) * 10**18 + i)
        await chain.w3.provider.make_request(RPCEndpoint("anvil_setBalance"), [address, balance])
    addresses = [*chain.accounts[:3], *funded, random_address()]
    block = await chain.w3.eth.block_number
    calls = [
        (chain.contracts.multicall3, False, chain.multicall.encode_abi("getEthBalance", [a]))
        for a in addresses
    ]
    results = await chain.multicall.functions.aggregate3(calls).call(block_identifier=block)
    expected = [await chain.w3.eth.get_balance(a, block) for a in addresses]
    assert [success for success, _ in results] == [True] * len(addresses)
    assert [decode(["uint256"], data)[0] for _, data in results] == expected
    assert expected[3:] == [10**18, 2 * 10**18 + 1, 3 * 10**18 + 2, 0]


async def test_block_and_chain_getters(chain: Chain) -> None:
    mc = chain.multicall.functions
    block = await chain.w3.eth.get_block("latest")
    number = block["number"]
    assert await mc.getChainId().call() == DEVNET.chain_id
    assert await mc.getBlockNumber().call(block_identifier=number) == number
    assert await mc.getCurrentBlockTimestamp().call(block_identifier=number) == block["timestamp"]
    assert await mc.getBasefee().call(block_identifier=number) == block["baseFeePerGas"]
    assert await mc.getCurrentBlockGasLimit().call(block_identifier=number) == block["gasLimit"]
    assert await mc.getLastBlockHash().call(block_identifier=number) == block["parentHash"]
    assert await mc.getBlockHash(number - 1).call(block_identifier=number) == block["parentHash"]
    assert await mc.getEthBalance(chain.deployer).call(block_identifier=number) == (
        await chain.w3.eth.get_balance(chain.deployer, number)
    )


async def test_allow_failure_semantics(chain: Chain) -> None:
    # The multicall holds no tokens, so a transfer made through it reverts inside the token.
    failing = chain.token.encode_abi("transfer", [random_address(), 1])
    inner_revert = custom_error(
        "ERC20InsufficientBalance(address,uint256,uint256)", chain.contracts.multicall3, 0, 1
    )
    balance_call = chain.multicall.encode_abi("getEthBalance", [chain.deployer])
    mc = chain.multicall.functions

    tolerated = await mc.aggregate3(
        [(chain.contracts.multicall3, False, balance_call), (chain.contracts.test_token, True, failing)]
    ).call()
    assert tolerated[0][0] is True
    assert tolerated[1] == (False, inner_revert)

    data = await revert_data(
        mc.aggregate3(
            [(chain.contracts.multicall3, True, balance_call), (chain.contracts.test_token, False, failing)]
        ).call()
    )
    assert data == custom_error("CallFailed(uint256,bytes)", 1, inner_revert)

    calls = [(chain.contracts.multicall3, balance_call), (chain.contracts.test_token, failing)]
    assert (await mc.tryAggregate(False, calls).call())[1] == (False, inner_revert)
    expected = custom_error("CallFailed(uint256,bytes)", 1, inner_revert)
    assert await revert_data(mc.tryAggregate(True, calls).call()) == expected
    assert await revert_data(mc.aggregate(calls).call()) == expected
    assert await revert_data(mc.blockAndAggregate(calls).call()) == expected


async def test_aggregate_returns_block_and_data(chain: Chain) -> None:
    block = await chain.w3.eth.block_number
    calls = [(chain.contracts.test_token, chain.token.encode_abi("decimals", []))]
    number, data = await chain.multicall.functions.aggregate(calls).call(block_identifier=block)
    assert number == block
    assert [decode(["uint8"], d)[0] for d in data] == [6]


async def test_aggregate3_value_pays_exactly(chain: Chain) -> None:
    payee = random_address()
    mc = chain.multicall.functions
    calls = [(payee, False, 5, b""), (payee, False, 7, b"")]

    def paying(wei: int) -> TxParams:
        return {"from": chain.deployer, "value": Wei(wei)}

    # Checked before any call runs, so underpaying is reported as such, not as a failed call.
    mismatch = await revert_data(mc.aggregate3Value(calls).call(paying(11)))
    assert mismatch == custom_error("ValueMismatch(uint256,uint256)", 11, 12)
    surplus = await revert_data(mc.aggregate3Value(calls).call(paying(13)))
    assert surplus == custom_error("ValueMismatch(uint256,uint256)", 13, 12)
    tx_hash = await mc.aggregate3Value(calls).transact(paying(12))
    receipt = await chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)
    assert receipt["status"] == 1
    assert await chain.w3.eth.get_balance(payee) == 12
    assert await chain.w3.eth.get_balance(chain.contracts.multicall3) == 0


# --- the test token --------------------------------------------------------------------------------


async def test_transfer_moves_balance_and_emits_transfer(chain: Chain) -> None:
    alice = random_address()
    token = chain.token.functions
    assert await token.transfer(alice, 100).call({"from": chain.deployer}) is True
    receipt = await send(chain, token.transfer(alice, 100), chain.deployer)
    assert await token.balanceOf(alice).call() == 100
    assert await token.balanceOf(chain.deployer).call() == TEST_TOKEN_SUPPLY - 100
    events = chain.token.events.Transfer().process_receipt(receipt)
    assert [dict(e["args"]) for e in events] == [{"from": chain.deployer, "to": alice, "value": 100}]
    assert [e["address"] for e in events] == [chain.contracts.test_token]


async def test_transfer_beyond_balance_reverts(chain: Chain) -> None:
    alice = chain.accounts[-2]
    token = chain.token.functions
    await send(chain, token.transfer(alice, 100), chain.deployer)
    data = await revert_data(token.transfer(random_address(), 101).call({"from": alice}))
    assert data == custom_error("ERC20InsufficientBalance(address,uint256,uint256)", alice, 100, 101)
    assert await revert_data(token.transfer(ZERO, 1).call({"from": alice})) == custom_error(
        "ERC20InvalidReceiver(address)", ZERO
    )


async def test_approve_and_transfer_from(chain: Chain) -> None:
    spender = chain.accounts[-3]
    carol = random_address()
    token = chain.token.functions
    approval = await send(chain, token.approve(spender, 50), chain.deployer)
    events = chain.token.events.Approval().process_receipt(approval)
    assert [dict(e["args"]) for e in events] == [{"owner": chain.deployer, "spender": spender, "value": 50}]
    assert await token.allowance(chain.deployer, spender).call() == 50

    moved = await send(chain, token.transferFrom(chain.deployer, carol, 30), spender)
    transfers = chain.token.events.Transfer().process_receipt(moved)
    assert [dict(e["args"]) for e in transfers] == [{"from": chain.deployer, "to": carol, "value": 30}]
    assert await token.balanceOf(carol).call() == 30
    assert await token.allowance(chain.deployer, spender).call() == 20

    data = await revert_data(token.transferFrom(chain.deployer, carol, 21).call({"from": spender}))
    assert data == custom_error("ERC20InsufficientAllowance(address,uint256,uint256)", spender, 20, 21)
    assert await revert_data(token.approve(ZERO, 1).call({"from": chain.deployer})) == custom_error(
        "ERC20InvalidSpender(address)", ZERO
    )


async def test_unlimited_allowance_still_needs_balance(chain: Chain) -> None:
    holder, spender = chain.accounts[-2], chain.accounts[-3]
    token = chain.token.functions
    await send(chain, token.transfer(holder, 100), chain.deployer)
    await send(chain, token.approve(spender, MAX_UINT), holder)
    await send(chain, token.transferFrom(holder, spender, 40), spender)
    assert await token.allowance(holder, spender).call() == MAX_UINT
    data = await revert_data(token.transferFrom(holder, spender, 61).call({"from": spender}))
    assert data == custom_error("ERC20InsufficientBalance(address,uint256,uint256)", holder, 60, 61)


async def test_only_the_owner_mints(chain: Chain) -> None:
    dave = random_address()
    token = chain.token.functions
    receipt = await send(chain, token.mint(dave, 7), chain.deployer)
    events = chain.token.events.Transfer().process_receipt(receipt)
    assert [dict(e["args"]) for e in events] == [{"from": ZERO, "to": dave, "value": 7}]
    assert await token.totalSupply().call() == TEST_TOKEN_SUPPLY + 7
    outsider = chain.accounts[-2]
    data = await revert_data(token.mint(outsider, 1).call({"from": outsider}))
    assert data == custom_error("NotOwner(address)", outsider)
