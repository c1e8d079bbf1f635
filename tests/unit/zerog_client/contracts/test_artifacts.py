"""The committed contract artifacts: they load, match their sources, and expose the expected ABI."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from eth_utils.abi import event_signature_to_log_topic, function_signature_to_4byte_selector

import zerog_client.contracts
from zerog_client.contracts import AbiEntry, ArtifactError, artifact_names, load_artifact, read_source
from zerog_client.contracts.compile import EVM_VERSION, SOLC_VERSION

pytestmark = pytest.mark.unit

SOURCE_DIR = Path(zerog_client.contracts.__file__).parent / "src"

# Selectors of the deployed Multicall3 that wallets and libraries call (public facts, checked
# against its published ABI); ours must be identical for their batching code to work unchanged.
MULTICALL3_SELECTORS = {
    "aggregate((address,bytes)[])": "0x252dba42",
    "aggregate3((address,bool,bytes)[])": "0x82ad56cb",
    "aggregate3Value((address,bool,uint256,bytes)[])": "0x174dea71",
    "blockAndAggregate((address,bytes)[])": "0xc3077fa9",
    "getBasefee()": "0x3e64a696",
    "getBlockHash(uint256)": "0xee82ac5e",
    "getBlockNumber()": "0x42cbb15c",
    "getChainId()": "0x3408e470",
    "getCurrentBlockCoinbase()": "0xa8b0574e",
    "getCurrentBlockDifficulty()": "0x72425d9d",
    "getCurrentBlockGasLimit()": "0x86d516e8",
    "getCurrentBlockTimestamp()": "0x0f28c97d",
    "getEthBalance(address)": "0x4d2301cc",
    "getLastBlockHash()": "0x27e86d6e",
    "tryAggregate(bool,(address,bytes)[])": "0xbce38bd7",
    "tryBlockAndAggregate(bool,(address,bytes)[])": "0x399542e9",
}

ERC20_SELECTORS = {
    "allowance(address,address)": "0xdd62ed3e",
    "approve(address,uint256)": "0x095ea7b3",
    "balanceOf(address)": "0x70a08231",
    "decimals()": "0x313ce567",
    "name()": "0x06fdde03",
    "symbol()": "0x95d89b41",
    "totalSupply()": "0x18160ddd",
    "transfer(address,uint256)": "0xa9059cbb",
    "transferFrom(address,address,uint256)": "0x23b872dd",
}

# ERC-6093 error selectors, as other tokens emit them.
ERC6093_SELECTORS = {
    "ERC20InsufficientBalance(address,uint256,uint256)": "0xe450d38c",
    "ERC20InsufficientAllowance(address,uint256,uint256)": "0xfb8f41b2",
    "ERC20InvalidReceiver(address)": "0xec442f05",
    "ERC20InvalidSpender(address)": "0x94280d62",
}


def canonical_type(param: AbiEntry) -> str:
    """The ABI type as it appears in a signature: tuples spelled out as `(t1,t2)`, arrays kept."""
    kind = str(param["type"])
    if not kind.startswith("tuple"):
        return kind
    components = param["components"]
    assert isinstance(components, list)
    inner = ",".join(canonical_type(c) for c in components if isinstance(c, dict))
    return f"({inner}){kind.removeprefix('tuple')}"


def signatures(abi: list[AbiEntry], kind: str) -> dict[str, AbiEntry]:
    found: dict[str, AbiEntry] = {}
    for entry in abi:
        if entry["type"] != kind:
            continue
        inputs = entry["inputs"]
        assert isinstance(inputs, list)
        args = ",".join(canonical_type(i) for i in inputs if isinstance(i, dict))
        found[f"{entry['name']}({args})"] = entry
    return found


def selector(signature: str) -> str:
    return "0x" + function_signature_to_4byte_selector(signature).hex()


def test_every_source_has_an_artifact_and_nothing_else() -> None:
    assert artifact_names() == ["DevFlow", "DevMarket", "Multicall3", "TestToken"]
    assert sorted(p.stem for p in SOURCE_DIR.glob("*.sol")) == artifact_names()


@pytest.mark.parametrize("name", ["DevFlow", "DevMarket", "Multicall3", "TestToken"])
def test_artifact_loads_with_code_and_build_settings(name: str) -> None:
    artifact = load_artifact(name)
    assert artifact.name == name
    assert artifact.compiler == SOLC_VERSION == "0.8.37"
    assert artifact.evm_version == EVM_VERSION == "cancun"
    assert len(artifact.bytecode) > len(artifact.deployed_bytecode) > 100
    # With metadata bytecodeHash "none" the trailer is only CBOR {"solc": 0.8.37} plus its
    # length: no source hash, so the bytecode does not change with comments or paths.
    assert artifact.deployed_bytecode.endswith(bytes.fromhex("a164736f6c6343000825000a"))


@pytest.mark.parametrize("name", ["DevFlow", "DevMarket", "Multicall3", "TestToken"])
def test_source_hash_is_sha256_of_the_current_source(name: str) -> None:
    on_disk = (SOURCE_DIR / f"{name}.sol").read_bytes()
    assert read_source(name) == on_disk
    assert load_artifact(name).source_hash == hashlib.sha256(on_disk).hexdigest()


def test_sources_pin_the_compiler_version() -> None:
    for name in artifact_names():
        assert f"pragma solidity {SOLC_VERSION};" in read_source(name).decode()


def test_known_multicall3_selectors_are_what_the_brief_states() -> None:
    # Guards the table above against a typo: these three come from the Multicall3 ABI itself.
    assert selector("aggregate3((address,bool,bytes)[])") == "0x82ad56cb"
    assert selector("tryAggregate(bool,(address,bytes)[])") == "0xbce38bd7"
    assert selector("getEthBalance(address)") == "0x4d2301cc"


def test_multicall3_has_exactly_the_multicall3_functions() -> None:
    functions = signatures(load_artifact("Multicall3").abi, "function")
    assert {sig: selector(sig) for sig in functions} == MULTICALL3_SELECTORS


def test_multicall3_mutability_and_result_shape_match() -> None:
    functions = signatures(load_artifact("Multicall3").abi, "function")
    for sig, entry in functions.items():
        expected = "view" if sig.startswith("get") else "payable"
        assert entry["stateMutability"] == expected, sig
    outputs = functions["aggregate3((address,bool,bytes)[])"]["outputs"]
    assert isinstance(outputs, list)
    [result] = outputs
    assert isinstance(result, dict)
    assert canonical_type(result) == "(bool,bytes)[]"
    components = result["components"]
    assert isinstance(components, list)
    assert [c["name"] for c in components if isinstance(c, dict)] == ["success", "returnData"]


def test_token_has_the_erc20_interface_and_owner_mint() -> None:
    functions = signatures(load_artifact("TestToken").abi, "function")
    assert {sig: selector(sig) for sig in ERC20_SELECTORS} == ERC20_SELECTORS
    assert set(functions) == {*ERC20_SELECTORS, "mint(address,uint256)", "owner()"}
    assert functions["decimals()"]["outputs"] == [{"internalType": "uint8", "name": "", "type": "uint8"}]
    constructor = [e for e in load_artifact("TestToken").abi if e["type"] == "constructor"]
    [entry] = constructor
    inputs = entry["inputs"]
    assert isinstance(inputs, list)
    assert [canonical_type(i) for i in inputs if isinstance(i, dict)] == [
        "string",
        "string",
        "uint8",
        "uint256",
    ]


def test_token_events_have_standard_topics_and_indexing() -> None:
    events = signatures(load_artifact("TestToken").abi, "event")
    assert set(events) == {"Transfer(address,address,uint256)", "Approval(address,address,uint256)"}
    for sig, entry in events.items():
        inputs = entry["inputs"]
        assert isinstance(inputs, list)
        assert [i["indexed"] for i in inputs if isinstance(i, dict)] == [True, True, False], sig
    assert event_signature_to_log_topic("Transfer(address,address,uint256)").hex() == (
        "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    )
    assert event_signature_to_log_topic("Approval(address,address,uint256)").hex() == (
        "8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925"
    )


def test_token_errors_are_the_erc6093_ones() -> None:
    errors = signatures(load_artifact("TestToken").abi, "error")
    assert set(errors) == {*ERC6093_SELECTORS, "NotOwner(address)"}
    assert {sig: selector(sig) for sig in ERC6093_SELECTORS} == ERC6093_SELECTORS


def test_multicall3_errors() -> None:
    errors = signatures(load_artifact("Multicall3").abi, "error")
    assert set(errors) == {"CallFailed(uint256,bytes)", "ValueMismatch(uint256,uint256)"}


def test_function_lookup_by_name() -> None:
    artifact = load_artifact("Multicall3")
    assert artifact.function("getEthBalance")["stateMutability"] == "view"
    with pytest.raises(KeyError):
        artifact.function("noSuchFunction")


def test_unknown_artifact_and_source_are_clear_errors() -> None:
    with pytest.raises(ArtifactError, match="no contract artifact named 'Nope'") as err:
        load_artifact("Nope")
    assert err.value.code == "contract_artifact_invalid"
    with pytest.raises(ArtifactError):
        read_source("Nope")
