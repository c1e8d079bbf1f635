"""Deploy our contracts (Multicall3, a test ERC-20, and a 0G storage flow with its market) to a devnet.

The devnet's dev accounts are unlocked in the node, so deployment sends plain `eth_sendTransaction`
requests and no private key ever appears in our code.

Addresses are deterministic: a contract created by a plain transaction lives at an address derived
from the sender and its nonce only. `deploy_devnet_contracts` sends Multicall3, the token and then
the storage flow with consecutive nonces (the flow creates its market itself, as its first
contract), so on a fresh devnet, deployed first from anvil's account 0 (`FRESH_DEVNET_DEPLOYER`),
they land at `FRESH_DEVNET_MULTICALL3`, `FRESH_DEVNET_TEST_TOKEN`, `FRESH_DEVNET_FLOW` and
`FRESH_DEVNET_MARKET`; `devnet_contract_addresses` gives the layout for any deployer.
Nothing relies on that silently: the addresses are always read from the receipts, and a test checks
the constants against a fresh node.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

import aiohttp
from eth_abi.abi import encode
from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import TimeExhausted, Web3Exception, Web3RPCError
from web3.types import Nonce, TxParams

from zerog_client.address import normalize_address
from zerog_client.contracts import load_artifact
from zerog_client.errors import ChainRequestError, ChainUnreachableError, WrongChainError, ZeroGError
from zerog_client.networks import DEVNET

TEST_TOKEN_NAME = "Test USD"
TEST_TOKEN_SYMBOL = "TUSD"
TEST_TOKEN_DECIMALS = 6
TEST_TOKEN_SUPPLY = 1_000_000 * 10**TEST_TOKEN_DECIMALS
"""Initial supply in base units: one million whole tokens, all minted to the deployer."""


def market_price_per_sector(lifetime_month: int, unit_price: int) -> int:
    """0G's fixed market price in neuron per 256-byte sector, from its deployment parameters.

    The formula is `lifetimeMonth * unitPrice * 1e18 / 2^30 / 12` in integer arithmetic, as 0G's
    deployment computes it (SPEC §1.4).

    Args:
        lifetime_month: months the data is paid for.
        unit_price: price in 0G per GiB per year.
    """
    return lifetime_month * unit_price * 10**18 // 2**30 // 12


DEVNET_PRICE_PER_SECTOR = market_price_per_sector(lifetime_month=12, unit_price=33)
"""The devnet market's initial price: the turbo networks' deployment default, 30,733,644,962 neuron
per sector (about 0.129 0G per GiB), so fees on the devnet look like the testnet's."""

_T = TypeVar("_T")

_MARKET_SELECTOR = keccak(b"market()")[:4]

FRESH_DEVNET_DEPLOYER = to_checksum_address("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266")
"""anvil's account 0 (first key of its well-known development mnemonic)."""
FRESH_DEVNET_MULTICALL3 = to_checksum_address("0x5fbdb2315678afecb367f032d93f642f64180aa3")
"""Where Multicall3 lands when it is account 0's first transaction (nonce 0)."""
FRESH_DEVNET_TEST_TOKEN = to_checksum_address("0xe7f1725e7734ce288f8367e1bb143e90bb3f0512")
"""Where the test token lands right after it (nonce 1)."""
FRESH_DEVNET_FLOW = to_checksum_address("0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0")
"""Where the storage flow lands after the token (nonce 2)."""
FRESH_DEVNET_MARKET = to_checksum_address("0x75537828f2ce51be7289709686a69cbfdbb714f1")
"""Where the flow's market lands: the first contract the flow creates (the flow's nonce 1)."""


class DevnetDeployError(ZeroGError):
    """A deployment transaction failed, was not mined in time, or created no contract."""

    code = "devnet_deploy_failed"


@dataclass(frozen=True, slots=True)
class DevnetContracts:
    """Addresses of the contracts deployed on a devnet."""

    chain_id: int
    deployer: ChecksumAddress
    multicall3: ChecksumAddress
    test_token: ChecksumAddress
    flow: ChecksumAddress
    """The 0G-compatible storage flow (`DevFlow`): `submit`, `batchSubmit` and the `Submit` event."""
    market: ChecksumAddress
    """The flow's fixed-price market (`DevMarket`), also readable on chain as `flow.market()`."""


def contract_address(deployer: str, nonce: int) -> ChecksumAddress:
    """The address a contract gets when `deployer` creates it with a transaction at `nonce`.

    It is the last 20 bytes of keccak256(rlp([deployer, nonce])) (the CREATE rule).

    Args:
        deployer: the sending account.
        nonce: the sending account's nonce for the creating transaction.

    Raises:
        InvalidAddressError: `deployer` is malformed.
        ValueError: `nonce` is negative.
    """
    if nonce < 0:
        raise ValueError("a nonce is never negative")
    sender = bytes.fromhex(normalize_address(deployer)[2:])
    # RLP by hand for this one shape: a 20-byte string (0x80 + 20) and a small integer, where
    # zero is the empty string and values below 0x80 are their own encoding.
    if nonce == 0:
        nonce_rlp = b"\x80"
    elif nonce < 0x80:
        nonce_rlp = bytes([nonce])
    else:
        raw = nonce.to_bytes((nonce.bit_length() + 7) // 8, "big")
        nonce_rlp = bytes([0x80 + len(raw)]) + raw
    payload = bytes([0x80 + len(sender)]) + sender + nonce_rlp
    # The payload is at most 21 + 9 bytes, so the short-list prefix always applies.
    return to_checksum_address(keccak(bytes([0xC0 + len(payload)]) + payload)[-20:])


def devnet_contract_addresses(chain_id: int, deployer: str, first_nonce: int = 0) -> DevnetContracts:
    """Where `deploy_devnet_contracts` puts the contracts when its first transaction has `first_nonce`.

    For finding the contracts again on a devnet restored from saved state, without redeploying.

    Args:
        chain_id: the devnet's chain id, copied into the result.
        deployer: the account that deployed them.
        first_nonce: the deployer's nonce for the Multicall3 deployment.

    Raises:
        InvalidAddressError: `deployer` is malformed.
        ValueError: `first_nonce` is negative.
    """
    sender = normalize_address(deployer)
    flow = contract_address(sender, first_nonce + 2)
    return DevnetContracts(
        chain_id=chain_id,
        deployer=sender,
        multicall3=contract_address(sender, first_nonce),
        test_token=contract_address(sender, first_nonce + 1),
        flow=flow,
        # A contract's own nonce starts at 1 (EIP-161), and the market is the flow's first creation.
        market=contract_address(flow, 1),
    )


def token_creation_code() -> bytes:
    """Creation code of the test token with its constructor arguments (name, symbol, decimals, supply)."""
    args = encode(
        ["string", "string", "uint8", "uint256"],
        [TEST_TOKEN_NAME, TEST_TOKEN_SYMBOL, TEST_TOKEN_DECIMALS, TEST_TOKEN_SUPPLY],
    )
    return load_artifact("TestToken").bytecode + args


def flow_creation_code(price_per_sector: int = DEVNET_PRICE_PER_SECTOR) -> bytes:
    """Creation code of the storage flow, whose constructor creates its market at `price_per_sector`.

    Args:
        price_per_sector: the market's initial price in neuron per sector.
    """
    return load_artifact("DevFlow").bytecode + encode(["uint256"], [price_per_sector])


async def deploy_devnet_contracts(
    rpc_url: str,
    deployer: str,
    *,
    expected_chain_id: int = DEVNET.chain_id,
    receipt_timeout_s: float = 30.0,
) -> DevnetContracts:
    """Deploy Multicall3, the test token ("Test USD", TUSD, 6 decimals, 1,000,000 minted) and the
    storage flow with its market (priced at `DEVNET_PRICE_PER_SECTOR`, owned by `deployer`).

    All are sent from `deployer`, an account the node holds unlocked (a dev account), with
    consecutive nonces, and each receipt is awaited. See the module docstring for the addresses a
    fresh devnet gives.

    Args:
        rpc_url: HTTP JSON-RPC URL of the devnet node.
        deployer: the sending account; it receives the token supply and owns the token and the market.
        expected_chain_id: the chain the node must serve; nothing is sent to any other.
        receipt_timeout_s: how long to wait for each transaction to be mined.

    Raises:
        InvalidAddressError: `deployer` is malformed.
        WrongChainError: the node serves another chain.
        ChainUnreachableError: the node does not answer.
        ChainRequestError: the node refused a request (e.g. `deployer` is not unlocked).
        DevnetDeployError: a deployment reverted, created no contract, or was not mined in time.
    """
    sender = normalize_address(deployer)
    provider = AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": aiohttp.ClientTimeout(total=10)})
    w3 = AsyncWeb3(provider)
    try:
        chain_id = await _rpc(rpc_url, w3.eth.chain_id)
        if chain_id != expected_chain_id:
            raise WrongChainError(
                f"{rpc_url} serves chain {chain_id}, but contracts are only deployed to chain "
                f"{expected_chain_id}"
            )
        # Explicit nonces make the addresses predictable and let us check the node agrees.
        nonce = await _rpc(rpc_url, w3.eth.get_transaction_count(sender, "pending"))
        multicall3 = await _deploy(
            w3, rpc_url, sender, nonce, load_artifact("Multicall3").bytecode, receipt_timeout_s
        )
        token = await _deploy(w3, rpc_url, sender, nonce + 1, token_creation_code(), receipt_timeout_s)
        flow = await _deploy(w3, rpc_url, sender, nonce + 2, flow_creation_code(), receipt_timeout_s)
        market = await _read_market(w3, rpc_url, flow)
    finally:
        await provider.disconnect()
    layout = devnet_contract_addresses(chain_id, sender, nonce)
    if market != layout.market:
        # The flow's constructor creates nothing before the market, so this means a wrong artifact.
        raise DevnetDeployError(f"the flow reports market {market}, expected {layout.market}")
    return DevnetContracts(
        chain_id=chain_id,
        deployer=sender,
        multicall3=multicall3,
        test_token=token,
        flow=flow,
        market=market,
    )


async def _deploy(
    w3: AsyncWeb3[AsyncHTTPProvider],
    rpc_url: str,
    sender: ChecksumAddress,
    nonce: int,
    creation_code: bytes,
    timeout_s: float,
) -> ChecksumAddress:
    tx: TxParams = {"from": sender, "nonce": Nonce(nonce), "data": HexBytes(creation_code)}
    tx_hash = await _rpc(rpc_url, w3.eth.send_transaction(tx))
    try:
        receipt = await _rpc(rpc_url, w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout_s))
    except TimeExhausted as exc:
        raise DevnetDeployError(f"deployment {tx_hash.to_0x_hex()} not mined within {timeout_s} s") from exc
    created = receipt.get("contractAddress")
    if receipt["status"] != 1 or created is None:
        raise DevnetDeployError(f"deployment {tx_hash.to_0x_hex()} reverted or created no contract")
    expected = contract_address(sender, nonce)
    if to_checksum_address(created) != expected:
        # Only possible if the node ignored our nonce; the address would then be unpredictable.
        raise DevnetDeployError(f"contract created at {created}, expected {expected} for nonce {nonce}")
    return expected


async def _read_market(
    w3: AsyncWeb3[AsyncHTTPProvider], rpc_url: str, flow: ChecksumAddress
) -> ChecksumAddress:
    call: TxParams = {"to": flow, "data": HexBytes(_MARKET_SELECTOR)}
    answer = await _rpc(rpc_url, w3.eth.call(call))
    if len(answer) != 32:
        raise DevnetDeployError(f"the flow at {flow} answered market() with {len(answer)} bytes")
    return to_checksum_address(answer[12:])


async def _rpc(rpc_url: str, request: Awaitable[_T]) -> _T:
    try:
        return await request
    except TimeExhausted:
        raise  # a Web3Exception too, but the caller turns it into a deploy error
    except Web3RPCError as exc:
        raise ChainRequestError(f"the node refused the request: {exc.message}") from exc
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise ChainUnreachableError(f"cannot reach the chain at {rpc_url}") from exc
    except Web3Exception as exc:
        raise ChainRequestError(f"unexpected answer from {rpc_url}: {exc}") from exc
