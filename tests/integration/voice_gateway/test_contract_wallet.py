"""EIP-1271 against a real chain: a minimal contract wallet deployed on anvil accepts its owner's
signature, refuses others, and a check on the wrong chain or an unreachable endpoint fails closed.

The wallet is hand-assembled EVM bytecode, written out below opcode by opcode, rather than a
Solidity contract among the committed artifacts (those are the devnet's own contracts). What it
does, in Solidity terms:

    function isValidSignature(bytes32 hash, bytes calldata sig) external view returns (bytes4) {
        if (sig.length != 65) return 0xffffffff;
        (bytes32 r, bytes32 s, uint8 v) = (sig[0:32], sig[32:64], uint8(sig[64]));
        return ecrecover(hash, v, r, s) == OWNER ? bytes4(0x1626ba7e) : bytes4(0xffffffff);
    }
    // any other selector reverts

so it is a real one-owner wallet: the owner's EIP-191 signature of the sign-in message is valid for
the wallet's address, though it recovers to the owner's address, not the wallet's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from tests.support.processes import free_port
from voice_gateway.auth.contract_wallet import ContractWalletError, Eip1271Checker
from voice_gateway.auth.service import AuthError, AuthService
from voice_gateway.auth.session_store import MemorySessionStore
from voice_gateway.auth.siwe import ERC6492_SUFFIX, SiweExpectations
from voice_gateway.auth.tokens import SigningKeys
from zerog_client.chain.jsonrpc import HttpJsonRpc
from zerog_client.devnet import AnvilNode
from zerog_client.networks import DEVNET

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

OWNER = Account.from_key((5151).to_bytes(32, "big"))
STRANGER = Account.from_key((5252).to_bytes(32, "big"))
ORIGIN = "https://zgv.example"
OTHER_CHAIN = 16602  # Galileo: allowed by the deployment, but not what the RPC serves


def assemble(program: list[str | int | bytes]) -> bytes:
    """Two-pass assembler for the wallet: opcode names, `label:` marks, `@label` jump targets
    (PUSH1, so the code stays under 256 bytes) and raw bytes for PUSH immediates."""
    opcodes = {
        "ADD": 0x01, "EQ": 0x14, "ISZERO": 0x15, "SHL": 0x1B, "SHR": 0x1C, "CALLDATALOAD": 0x35,
        "CODECOPY": 0x39, "POP": 0x50, "MLOAD": 0x51, "MSTORE": 0x52, "JUMPI": 0x57, "GAS": 0x5A,
        "JUMPDEST": 0x5B, "PUSH1": 0x60, "PUSH4": 0x63, "PUSH20": 0x73, "DUP1": 0x80, "RETURN": 0xF3,
        "STATICCALL": 0xFA, "REVERT": 0xFD,
    }  # fmt: skip
    labels: dict[str, int] = {}
    for resolve in (False, True):
        code = bytearray()
        for item in program:
            if isinstance(item, str) and item.endswith(":"):
                labels[item[:-1]] = len(code)
                code.append(opcodes["JUMPDEST"])
            elif isinstance(item, str) and item.startswith("@"):
                code += bytes([opcodes["PUSH1"], labels[item[1:]] if resolve else 0])
            elif isinstance(item, str):
                code.append(opcodes[item])
            elif isinstance(item, int):
                code.append(item)
            else:
                code += item
    assert len(code) < 256
    return bytes(code)


def wallet_runtime(owner: str) -> bytes:
    magic, failure = bytes.fromhex("1626ba7e"), bytes.fromhex("ffffffff")
    return assemble(
        [
            # The selector must be isValidSignature(bytes32,bytes).
            "PUSH1", b"\x00", "CALLDATALOAD", "PUSH1", b"\xe0", "SHR",
            "PUSH4", magic, "EQ", "ISZERO", "@revert", "JUMPI",
            # memory[0x00] = hash
            "PUSH1", b"\x04", "CALLDATALOAD", "PUSH1", b"\x00", "MSTORE",
            # p = 4 + offset of `sig`: where its length word is in the calldata. Stack: [p]
            "PUSH1", b"\x24", "CALLDATALOAD", "PUSH1", b"\x04", "ADD",
            # sig.length must be 65
            "DUP1", "CALLDATALOAD", "PUSH1", b"\x41", "EQ", "ISZERO", "@fail", "JUMPI",
            # memory[0x40] = r = sig[0:32]; memory[0x60] = s = sig[32:64]
            "DUP1", "PUSH1", b"\x20", "ADD", "CALLDATALOAD", "PUSH1", b"\x40", "MSTORE",
            "DUP1", "PUSH1", b"\x40", "ADD", "CALLDATALOAD", "PUSH1", b"\x60", "MSTORE",
            # memory[0x20] = v = sig[64] (the top byte of the word at p + 96). Stack: []
            "PUSH1", b"\x60", "ADD", "CALLDATALOAD", "PUSH1", b"\xf8", "SHR", "PUSH1", b"\x20", "MSTORE",
            # ecrecover precompile (address 1) on memory[0:0x80], result to memory[0x80]; when it
            # fails it writes nothing and memory[0x80] stays zero, which is never the owner.
            "PUSH1", b"\x20", "PUSH1", b"\x80", "PUSH1", b"\x80", "PUSH1", b"\x00", "PUSH1", b"\x01", "GAS",
            "STATICCALL", "POP",
            "PUSH1", b"\x80", "MLOAD", "PUSH20", bytes.fromhex(owner[2:]), "EQ", "ISZERO", "@fail", "JUMPI",
            # return bytes4(0x1626ba7e), ABI-encoded: left-aligned in one word
            "PUSH4", magic, "PUSH1", b"\xe0", "SHL", "PUSH1", b"\x00", "MSTORE",
            "PUSH1", b"\x20", "PUSH1", b"\x00", "RETURN",
            "fail:",
            "PUSH4", failure, "PUSH1", b"\xe0", "SHL", "PUSH1", b"\x00", "MSTORE",
            "PUSH1", b"\x20", "PUSH1", b"\x00", "RETURN",
            "revert:",
            "PUSH1", b"\x00", "DUP1", "REVERT",
        ]
    )  # fmt: skip


def creation_code(runtime: bytes) -> bytes:
    # CODECOPY(0, 12, len) then RETURN(0, len): the 12-byte prefix copies what follows it.
    prefix = bytes([0x60, len(runtime), 0x60, 12, 0x60, 0x00, 0x39, 0x60, len(runtime), 0x60, 0x00, 0xF3])
    assert len(prefix) == 12
    return prefix + runtime


async def deploy(rpc: HttpJsonRpc, init_code: bytes) -> str:
    """Deploy from a fresh, funded key, so no shared dev account's nonce or balance moves."""
    deployer = Account.create()
    await rpc.call("anvil_setBalance", [deployer.address, hex(10**18)])
    tx = {
        "chainId": DEVNET.chain_id,
        "nonce": 0,
        "gas": 300_000,
        "gasPrice": int(await rpc.call("eth_gasPrice", []), 16) * 2,
        "data": init_code,
        "value": 0,
    }
    raw = Account.sign_transaction(tx, deployer.key).raw_transaction
    tx_hash = await rpc.call("eth_sendRawTransaction", ["0x" + bytes(raw).hex()])
    with anyio.fail_after(10):
        while True:
            receipt = await rpc.call("eth_getTransactionReceipt", [tx_hash])
            if receipt is not None:
                assert receipt["status"] == "0x1"
                return str(receipt["contractAddress"])
            await anyio.sleep(0.02)  # poll interval of a deadline loop


@pytest.fixture
async def rpc(anvil: AnvilNode) -> AsyncIterator[HttpJsonRpc]:
    transport = HttpJsonRpc(anvil.rpc_url, timeout_s=5.0)
    yield transport
    await transport.close()


@pytest.fixture
async def wallet(rpc: HttpJsonRpc) -> str:
    address = to_checksum_address(await deploy(rpc, creation_code(wallet_runtime(OWNER.address))))
    assert await rpc.call("eth_getCode", [address, "latest"]) == "0x" + wallet_runtime(OWNER.address).hex()
    return address


@pytest.fixture
async def checker(rpc: HttpJsonRpc) -> Eip1271Checker:
    return Eip1271Checker(rpc, timeout_s=5.0)


def personal_sign(text: str, account: Any) -> bytes:
    return bytes(Account.sign_message(encode_defunct(text=text), account.key).signature)


def digest_of(text: str) -> bytes:
    data = text.encode()
    return keccak(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data)


async def test_the_wallet_accepts_its_owner_and_nobody_else(checker: Eip1271Checker, wallet: str) -> None:
    text = "any message"
    chain = DEVNET.chain_id
    assert await checker.check(chain, wallet, digest_of(text), personal_sign(text, OWNER)) == "valid"
    assert await checker.check(chain, wallet, digest_of(text), personal_sign(text, STRANGER)) == "invalid"
    assert await checker.check(chain, wallet, digest_of("other"), personal_sign(text, OWNER)) == "invalid"
    # An empty signature (Safe's "approved hash" path) gets no approval from this wallet.
    assert await checker.check(chain, wallet, digest_of(text), b"") == "invalid"


async def test_an_account_without_code_gives_no_answer(checker: Eip1271Checker) -> None:
    text = "any message"
    verdict = await checker.check(DEVNET.chain_id, OWNER.address, digest_of(text), personal_sign(text, OWNER))
    assert verdict == "no_answer"


async def test_a_check_on_another_chain_is_refused(checker: Eip1271Checker, wallet: str) -> None:
    text = "any message"
    with pytest.raises(ContractWalletError) as refused:
        await checker.check(OTHER_CHAIN, wallet, digest_of(text), personal_sign(text, OWNER))
    assert refused.value.code == "wrong_chain_for_contract"


async def test_an_unreachable_endpoint_fails_closed() -> None:
    checker = Eip1271Checker.from_url(f"http://127.0.0.1:{free_port()}", timeout_s=2.0)
    try:
        with pytest.raises(ContractWalletError) as refused:
            await checker.check(DEVNET.chain_id, OWNER.address, bytes(32), b"")
        assert refused.value.code == "contract_check_unavailable"
    finally:
        await checker.aclose()


def sign_in_message(address: str, nonce: str, chain_id: int) -> str:
    now = datetime.now(UTC).replace(microsecond=0)
    return "\n".join(
        [
            "https://zgv.example wants you to sign in with your Ethereum account:",
            address,
            "",
            "Sign in to zgvoice.",
            "",
            "URI: https://zgv.example/login",
            "Version: 1",
            f"Chain ID: {chain_id}",
            f"Nonce: {nonce}",
            f"Issued At: {(now - timedelta(seconds=5)).isoformat().replace('+00:00', 'Z')}",
            f"Expiration Time: {(now + timedelta(minutes=5)).isoformat().replace('+00:00', 'Z')}",
        ]
    )


async def test_a_contract_wallet_signs_in_only_on_the_chain_the_rpc_serves(
    checker: Eip1271Checker, wallet: str
) -> None:
    expect = SiweExpectations(
        domain="zgv.example",
        scheme="https",
        uri="https://zgv.example/login",
        chain_ids=frozenset({DEVNET.chain_id, OTHER_CHAIN}),
    )
    keys = SigningKeys(Ed25519PrivateKey.generate())
    service = AuthService(MemorySessionStore(), keys, expect, [], checker)

    text = sign_in_message(wallet, await service.issue_nonce(ORIGIN), DEVNET.chain_id)
    session = await service.verify(text, "0x" + personal_sign(text, OWNER).hex(), ORIGIN)
    assert (session.address, session.wallet) == (wallet, "contract")
    assert (await service.check_access(session.access_token, "gateway")).sub == wallet

    attempts = [
        (OTHER_CHAIN, OWNER, "", "wrong_chain_for_contract"),
        (DEVNET.chain_id, STRANGER, "", "contract_signature_invalid"),
        (DEVNET.chain_id, OWNER, ERC6492_SUFFIX, "erc6492_unsupported"),
    ]
    for chain_id, signer, suffix, code in attempts:
        text = sign_in_message(wallet, await service.issue_nonce(ORIGIN), chain_id)
        with pytest.raises(AuthError) as refused:
            await service.verify(text, "0x" + personal_sign(text, signer).hex() + suffix, ORIGIN)
        assert refused.value.code == code
