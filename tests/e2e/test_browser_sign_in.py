"""Wallet sign-in on the mic page, in a real Chromium against a real `zgv up` with sign-in on: the
devnet's built-in wallet, and a browser wallet extension (an EIP-1193 provider the test injects,
signing with a key only the test holds). Talking needs a signed-in wallet; the socket gets a ticket.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from playwright import sync_api

from tests.e2e.test_browser_voice import ARTIFACTS, CHROMIUM, TRACE_SCRIPT, TURN_TIMEOUT_MS
from tests.support.gateway import running_gateway

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DEVNET_ACCOUNT_0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
EXTENSION_KEY = (8181).to_bytes(32, "big")
EXTENSION_ADDRESS = str(Account.from_key(EXTENSION_KEY).address)

# A minimal EIP-1193 provider: the page asks it for accounts and for `personal_sign`; signing is
# done by the test (exposed function), as a wallet extension would after asking its user.
PROVIDER_SCRIPT = """
window.zgvSignRequests = [];
window.ethereum = {
  async request({ method, params }) {
    if (method === "eth_requestAccounts") return [ADDRESS.toLowerCase()];
    if (method === "personal_sign") {
      window.zgvSignRequests.push(params);
      return await window.zgvWalletSign(params[0]);
    }
    throw new Error("unsupported " + method);
  },
};
"""


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    with running_gateway(ZGV_AUTH__ENABLED="true") as running:
        yield running.http


@pytest.fixture(scope="module")
def browser_engine() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        yield pw


@pytest.fixture
def open_page(browser_engine: Any, gateway: str, tmp_path: Path) -> Iterator[Callable[[bool], Any]]:
    contexts: list[Any] = []

    def launch(with_extension: bool) -> Any:
        context = browser_engine.chromium.launch_persistent_context(
            str(tmp_path / f"profile-{len(contexts)}"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
            viewport={"width": 900, "height": 900},
        )
        contexts.append(context)
        page = context.new_page()
        page.add_init_script(TRACE_SCRIPT)
        if with_extension:
            page.expose_function("zgvWalletSign", _sign_hex_message)
            page.add_init_script(PROVIDER_SCRIPT.replace("ADDRESS", f'"{EXTENSION_ADDRESS}"'))
        page.goto(f"{gateway}/")
        return page

    yield launch
    for context in contexts:
        context.close()


def _sign_hex_message(hex_message: str) -> str:
    text = bytes.fromhex(hex_message.removeprefix("0x")).decode()
    return "0x" + Account.sign_message(encode_defunct(text=text), EXTENSION_KEY).signature.hex()


def zg(page: Any, prop: str) -> Any:
    return page.evaluate(f"() => document.querySelector('zg-voice').{prop}")


def wait_for(page: Any, condition: str) -> None:
    page.wait_for_function(condition, timeout=TURN_TIMEOUT_MS, polling=100)


def ask(page: Any, text: str) -> None:
    question = page.get_by_role("textbox", name="Type a question")
    question.fill(text)
    question.press("Enter")


def replies(page: Any) -> list[str]:
    received = page.evaluate("() => zgvTrace.received")
    return [m["text"] for m in received if m["type"] == "reply_text"]


def test_talking_needs_a_wallet_and_the_devnet_wallet_signs_in(open_page: Callable[[bool], Any]) -> None:
    page = open_page(False)
    devnet_button = page.get_by_role("button", name="Use devnet wallet (test key)")
    devnet_button.wait_for(timeout=10_000)
    # No wallet: the page says so instead of opening a socket the gateway would refuse.
    ask(page, "what is my balance")
    wait_for(page, "() => document.querySelector('zg-voice').state === 'error'")
    assert "Sign in with your wallet first" in page.get_by_role("alert").inner_text()
    assert page.evaluate("() => zgvTrace.sent.length") == 0

    devnet_button.click()
    wait_for(page, "() => document.querySelector('zg-voice').dataset.wallet !== ''")
    assert zg(page, "walletAddress") == DEVNET_ACCOUNT_0
    assert "Signed in as 0xf39F…2266" in page.get_by_role("group", name="Wallet").inner_text()
    ask(page, "what is my balance")
    wait_for(page, "() => zgvTrace.received.some((m) => m.type === 'reply_text' && m.final)")
    assert any(text.startswith("You have") for text in replies(page))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-sign-in-devnet.png"), full_page=True)

    page.get_by_role("button", name="Sign out").click()
    wait_for(page, "() => document.querySelector('zg-voice').dataset.wallet === ''")
    assert zg(page, "walletAddress") is None


def test_a_wallet_extension_signs_in_and_my_balance_is_its_own(open_page: Callable[[bool], Any]) -> None:
    page = open_page(True)
    page.get_by_role("button", name="Connect wallet").click()
    wait_for(page, "() => document.querySelector('zg-voice').dataset.wallet !== ''")
    assert zg(page, "walletAddress") == EXTENSION_ADDRESS
    (request,) = page.evaluate("() => zgvSignRequests")
    message = bytes.fromhex(request[0].removeprefix("0x")).decode()
    assert message.splitlines()[1] == EXTENSION_ADDRESS  # checksummed by the gateway for the wallet
    assert request[1] == EXTENSION_ADDRESS.lower()
    ask(page, "what is my balance")
    wait_for(page, "() => zgvTrace.received.some((m) => m.type === 'reply_text' && m.final)")
    assert any(text.startswith("You have 0 0G") for text in replies(page))
