"""Signing in to a running gateway from a program: `zgv login`, the benchmarks and the tests.

Two wallets: a key this process holds (any wallet; the gateway writes the EIP-4361 message, we sign
it with EIP-191), or the gateway's devnet-only built-in wallet, which signs for itself. Non-browser
clients send the gateway's own Origin, as its page would: Origin checks keep other sites' pages
out, and a program that can set headers is not a page.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio.to_thread
import httpx
from eth_account import Account
from eth_account.messages import encode_defunct

from zgvoice.cli_errors import UsageError

TIMEOUT_S = 10.0


class LoginError(Exception):
    """The gateway refused, or could not be reached; the message says which step."""


@dataclass(frozen=True)
class Login:
    """A signed-in session at a gateway (tokens hidden from repr)."""

    base_url: str
    address: str
    access_token: str
    refresh_token: str

    def __repr__(self) -> str:
        return f"Login({self.base_url}, {self.address})"

    @property
    def bearer(self) -> dict[str, str]:
        """Headers for an authenticated request."""
        return {"Authorization": f"Bearer {self.access_token}", "Origin": origin_of(self.base_url)}


def origin_of(url: str) -> str:
    """The HTTP origin of a gateway URL (ws/wss URLs included)."""
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, "", "", ""))


def _post(client: httpx.Client, path: str, body: dict[str, Any], step: str) -> dict[str, Any]:
    try:
        response = client.post(path, json=body)
    except httpx.HTTPError as exc:
        raise LoginError(f"{step}: the gateway is unreachable ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise LoginError(f"{step}: the gateway answered {response.status_code}")
    payload: dict[str, Any] = response.json()
    return payload


async def sign_in(base_url: str, private_key: bytes | None = None) -> Login:
    """Sign in at the gateway at `base_url` with `private_key`, or with the devnet wallet if None.

    Raises:
        LoginError: sign-in is off or refused, the devnet wallet is not offered, or no answer.
    """
    return await anyio.to_thread.run_sync(sign_in_blocking, base_url, private_key)


def sign_in_blocking(base_url: str, private_key: bytes | None = None) -> Login:
    """`sign_in` for callers without an event loop (one blocking HTTP client, closed at the end)."""
    origin = origin_of(base_url)
    with httpx.Client(base_url=origin, headers={"Origin": origin}, timeout=TIMEOUT_S) as client:
        if private_key is None:
            try:
                wallet = client.get("/v1/auth/devnet-wallet")
            except httpx.HTTPError as exc:
                reason = f"devnet wallet: the gateway is unreachable ({type(exc).__name__})"
                raise LoginError(reason) from None
            if wallet.status_code == 404:
                raise LoginError("this gateway offers no devnet wallet (sign-in off, or not a devnet)")
            if wallet.status_code != 200:
                raise LoginError(f"devnet wallet: the gateway answered {wallet.status_code}")
            address = str(wallet.json()["address"])
        else:
            address = str(Account.from_key(private_key).address)
        message = str(_post(client, "/v1/auth/message", {"address": address}, "message")["message"])
        if private_key is None:
            signature = str(
                _post(client, "/v1/auth/devnet-wallet/sign", {"message": message}, "signing")["signature"]
            )
        else:
            raw = Account.sign_message(encode_defunct(text=message), private_key).signature
            signature = "0x" + bytes(raw).hex()
        proof = {"message": message, "signature": signature}
        session = _post(client, "/v1/auth/verify", proof, "verify")
    return Login(origin, address, str(session["access_token"]), str(session["refresh_token"]))


async def voice_ticket(login: Login) -> str:
    """A one-time ticket for the next voice WebSocket (30 s).

    Raises:
        LoginError: refused (the session ended) or no answer.
    """

    def request() -> str:
        with httpx.Client(base_url=login.base_url, headers=login.bearer, timeout=TIMEOUT_S) as client:
            return str(_post(client, "/v1/auth/ws-ticket", {}, "ticket")["ticket"])

    return await anyio.to_thread.run_sync(request)


async def sign_in_required(base_url: str) -> bool:
    """Whether the gateway at `base_url` asks for sign-in (an older gateway without
    `/v1/auth/info` does not)."""

    def request() -> bool:
        with httpx.Client(base_url=origin_of(base_url), timeout=TIMEOUT_S) as client:
            response = client.get("/v1/auth/info")
        return response.status_code == 200 and bool(response.json().get("sign_in"))

    return await anyio.to_thread.run_sync(request)


class VoiceTickets:
    """Voice WebSocket URLs with a fresh ticket, signing in (as the devnet wallet) once per gateway
    and again when that sign-in has ended."""

    def __init__(self) -> None:
        self._logins: dict[str, Login] = {}

    async def url(self, socket_url: str) -> str:
        """`socket_url` with a one-time ticket when its gateway asks for sign-in; else unchanged.

        Raises:
            LoginError: sign-in or the ticket was refused, or the gateway did not answer.
        """
        base = origin_of(socket_url)
        if not await sign_in_required(base):
            return socket_url
        login = self._logins.get(base)
        if login is None:
            login = self._logins[base] = await sign_in(base)
        try:
            ticket = await voice_ticket(login)
        except LoginError:  # that sign-in ended (revoked or expired): sign in again
            login = self._logins[base] = await sign_in(base)
            ticket = await voice_ticket(login)
        return f"{socket_url}{'&' if '?' in socket_url else '?'}ticket={ticket}"


def add_parser(commands: Any) -> None:
    """Register `zgv login`."""
    login = commands.add_parser(
        "login", help="sign in to a running gateway with its devnet wallet and print the tokens"
    )
    login.add_argument("--url", default=None, help="the gateway (default: http://HOST:PORT of the settings)")
    login.add_argument("--json", action="store_true", help="print address and both tokens as JSON")


async def run(base_url: str, args: argparse.Namespace) -> None:
    """Carry out `zgv login`: the access token on stdout (or everything with --json).

    Raises:
        UsageError: sign-in failed (the reason names the step).
    """
    try:
        login = await sign_in(args.url or base_url)
    except LoginError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        body = {
            "address": login.address,
            "access_token": login.access_token,
            "refresh_token": login.refresh_token,
        }
        print(json.dumps(body))
    else:
        print(login.access_token)
