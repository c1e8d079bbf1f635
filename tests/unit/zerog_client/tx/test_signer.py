"""`LocalSigner`: keystore decryption, the devnet-only plain key, and key material that never shows:
not in reprs, attributes, errors, logs, pickles or copies."""

from __future__ import annotations

import copy
import json
import logging
import pickle
import secrets
import traceback
from pathlib import Path
from typing import Literal

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from zerog_client.networks import DEVNET, GALILEO, MAINNET
from zerog_client.tx.signer import MAX_KEYSTORE_BYTES, KeystoreError, LocalSigner, Signer, SignerError
from zerog_client.tx.unsigned import UnsignedTx, decode_signed

pytestmark = pytest.mark.unit

TO = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
Kdf = Literal["pbkdf2", "scrypt"]


def tx(chain_id: int = DEVNET.chain_id) -> UnsignedTx:
    return UnsignedTx(
        chain_id=chain_id,
        nonce=1,
        to=TO,
        value=3,
        data=b"\xaa",
        gas=30_000,
        max_fee_per_gas=2 * 10**9,
        max_priority_fee_per_gas=10**9,
    )


@pytest.fixture
def account() -> LocalAccount:
    created: LocalAccount = Account.create()
    return created


@pytest.fixture
def password() -> str:
    return "pw-" + secrets.token_hex(12)


def write_keystore(path: Path, account: LocalAccount, password: str, kdf: Kdf = "pbkdf2") -> Path:
    # Small work factors keep the test fast; the format is the same.
    keystore = Account.encrypt(account.key, password, kdf=kdf, iterations=2 if kdf == "scrypt" else 1000)
    path.write_text(json.dumps(keystore))
    return path


def secrets_of(account: LocalAccount) -> list[str]:
    """Every spelling of the private key a leak might use."""
    key = bytes(account.key)
    return [key.hex(), key.hex().upper(), str(int.from_bytes(key, "big")), repr(key)[2:-1]]


def assert_no_key_in(text: str, account: LocalAccount) -> None:
    lowered = text.lower()
    for spelling in secrets_of(account):
        assert spelling.lower() not in lowered


def full_text(error: BaseException) -> str:
    """The error as a log handler would print it, with its whole cause chain."""
    return "".join(traceback.format_exception(error)) + repr(error) + str(getattr(error, "message", ""))


# --- the keystore ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kdf", ["pbkdf2", "scrypt"])
def test_a_keystore_round_trip_signs_as_the_key(
    tmp_path: Path, account: LocalAccount, password: str, kdf: Kdf
) -> None:
    signer = LocalSigner.from_keystore(
        write_keystore(tmp_path / "key.json", account, password, kdf), password
    )
    assert signer.address == account.address
    signed = signer.sign(tx())
    expected = account.sign_transaction(tx().as_signable())
    assert signed.raw == bytes(expected.raw_transaction)
    assert signed.tx_hash == "0x" + bytes(expected.hash).hex()
    assert signed.sender == account.address
    assert signed.tx == tx()
    assert decode_signed(signed.raw).sender == account.address


def test_a_keystore_signer_signs_for_any_chain(tmp_path: Path, account: LocalAccount, password: str) -> None:
    signer = LocalSigner.from_keystore(write_keystore(tmp_path / "k.json", account, password), password)
    for chain in (DEVNET, GALILEO, MAINNET):
        assert decode_signed(signer.sign(tx(chain.chain_id)).raw).tx.chain_id == chain.chain_id


def test_a_local_signer_satisfies_the_signer_protocol(
    tmp_path: Path, account: LocalAccount, password: str
) -> None:
    signer: Signer = LocalSigner.from_keystore(
        write_keystore(tmp_path / "k.json", account, password), password
    )
    assert signer.sign(tx()).sender == signer.address


def test_a_wrong_password_says_so_without_echoing_secrets(
    tmp_path: Path, account: LocalAccount, password: str
) -> None:
    path = write_keystore(tmp_path / "key.json", account, password)
    wrong = password + "x"
    with pytest.raises(KeystoreError, match="password is wrong") as info:
        LocalSigner.from_keystore(path, wrong)
    text = full_text(info.value)
    assert password not in text
    assert wrong not in text
    assert_no_key_in(text, account)
    assert info.value.code == "keystore_error"


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        '{"version": 3',
        "[]",
        "{}",
        '"a string"',
        "null",
        '{"version": 3, "crypto": "nope"}',
        '{"version": 3, "crypto": {"kdf": "pbkdf2"}}',
    ],
)
def test_a_malformed_keystore_is_a_keystore_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "key.json"
    path.write_text(content)
    with pytest.raises(KeystoreError):
        LocalSigner.from_keystore(path, "pw")


def test_a_damaged_keystore_is_a_keystore_error(tmp_path: Path, account: LocalAccount, password: str) -> None:
    path = write_keystore(tmp_path / "key.json", account, password)
    keystore = json.loads(path.read_text())
    keystore["crypto"]["ciphertext"] = "00" + keystore["crypto"]["ciphertext"][2:]
    path.write_text(json.dumps(keystore))
    with pytest.raises(KeystoreError) as info:
        LocalSigner.from_keystore(path, password)
    assert password not in full_text(info.value)
    assert_no_key_in(full_text(info.value), account)


def test_binary_content_is_a_keystore_error(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    path.write_bytes(b"\xff\xfe\x00\x81" * 10)
    with pytest.raises(KeystoreError):
        LocalSigner.from_keystore(path, "pw")


def test_the_size_limit_is_checked_before_reading(
    tmp_path: Path, account: LocalAccount, password: str
) -> None:
    keystore = json.dumps(Account.encrypt(account.key, password, kdf="pbkdf2", iterations=1000))
    at_limit = tmp_path / "at-limit.json"
    at_limit.write_text(keystore + " " * (MAX_KEYSTORE_BYTES - len(keystore)))
    assert at_limit.stat().st_size == MAX_KEYSTORE_BYTES
    assert LocalSigner.from_keystore(at_limit, password).address == account.address
    over = tmp_path / "over.json"
    over.write_text(keystore + " " * (MAX_KEYSTORE_BYTES - len(keystore) + 1))
    with pytest.raises(KeystoreError, match="too large"):
        LocalSigner.from_keystore(over, password)


def test_a_missing_file_or_a_directory_is_a_keystore_error(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="cannot read"):
        LocalSigner.from_keystore(tmp_path / "absent.json", "pw")
    with pytest.raises(KeystoreError, match="cannot read"):
        LocalSigner.from_keystore(tmp_path, "pw")


# --- the devnet key --------------------------------------------------------------------------------


def test_a_devnet_key_signs_for_the_devnet(account: LocalAccount) -> None:
    signer = LocalSigner.devnet_key("0x" + bytes(account.key).hex())
    assert signer.address == account.address
    assert decode_signed(signer.sign(tx()).raw).sender == account.address


@pytest.mark.parametrize("chain_id", [GALILEO.chain_id, MAINNET.chain_id, 1, 16600])
def test_a_devnet_key_is_refused_for_another_chain(account: LocalAccount, chain_id: int) -> None:
    with pytest.raises(SignerError, match="devnet only") as info:
        LocalSigner.devnet_key(bytes(account.key).hex(), chain_id=chain_id)
    assert_no_key_in(full_text(info.value), account)


@pytest.mark.parametrize("chain_id", [GALILEO.chain_id, MAINNET.chain_id, 1])
def test_a_devnet_key_refuses_to_sign_for_another_chain(account: LocalAccount, chain_id: int) -> None:
    signer = LocalSigner.devnet_key(bytes(account.key).hex())
    with pytest.raises(SignerError, match=str(DEVNET.chain_id)) as info:
        signer.sign(tx(chain_id))
    assert_no_key_in(full_text(info.value), account)


@pytest.mark.parametrize("key", ["", "0x1234", "zz" * 32, "0x" + "00" * 32, "0x" + "ab" * 33])
def test_an_invalid_devnet_key_is_refused_without_echoing_it(key: str) -> None:
    with pytest.raises(SignerError, match="not a valid private key") as info:
        LocalSigner.devnet_key(key)
    if len(key) > 6:
        assert key[2:] not in str(info.value)


# --- the key never shows ---------------------------------------------------------------------------


@pytest.fixture
def signer(tmp_path: Path, account: LocalAccount, password: str) -> LocalSigner:
    return LocalSigner.from_keystore(write_keystore(tmp_path / "k.json", account, password), password)


def test_repr_and_str_show_only_the_address(signer: LocalSigner, account: LocalAccount) -> None:
    for text in (repr(signer), str(signer), f"{signer}", f"{signer!r}", format(signer, "")):
        assert text == f"LocalSigner(address={account.address})"


def test_no_public_attribute_holds_the_key(signer: LocalSigner, account: LocalAccount) -> None:
    with pytest.raises(TypeError):
        vars(signer)
    assert not hasattr(signer, "__dict__")
    public = {name: getattr(signer, name) for name in dir(signer) if not name.startswith("_")}
    assert set(public) == {"address", "sign", "from_keystore", "devnet_key"}
    for value in public.values():
        assert_no_key_in(repr(value), account)
    for slot in LocalSigner.__slots__:
        assert_no_key_in(repr(getattr(signer, slot)), account)


def test_signing_logs_no_key_material(
    signer: LocalSigner,
    account: LocalAccount,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    password: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    signer.sign(tx())
    with pytest.raises(SignerError):
        LocalSigner.devnet_key(bytes(account.key).hex()).sign(tx(GALILEO.chain_id))
    with pytest.raises(KeystoreError):
        LocalSigner.from_keystore(write_keystore(tmp_path / "again.json", account, password), "wrong")
    for record in caplog.records:
        assert_no_key_in(record.getMessage(), account)
        assert_no_key_in(repr(record.__dict__), account)
        assert password not in record.getMessage()


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_a_signer_cannot_be_pickled(signer: LocalSigner, protocol: int) -> None:
    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(signer, protocol=protocol)
    with pytest.raises(TypeError):
        pickle.dumps({"nested": [signer]}, protocol=protocol)


def test_a_signer_cannot_be_copied(signer: LocalSigner) -> None:
    with pytest.raises(TypeError, match="copied"):
        copy.copy(signer)
    with pytest.raises(TypeError, match="copied"):
        copy.deepcopy(signer)
    with pytest.raises(TypeError):
        copy.deepcopy({"nested": signer})
