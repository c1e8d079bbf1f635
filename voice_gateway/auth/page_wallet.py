"""What the mic page needs to sign in: the deployment's sign-in terms, and on a devnet a built-in
wallet so the embedded default works without a browser extension.

`GET /v1/auth/info` tells a page what an EIP-4361 message must say here (domain, scheme, URI, chain)
and whether the devnet wallet is offered. The devnet wallet (`GET /v1/auth/devnet-wallet`, `POST
/v1/auth/devnet-wallet/sign`) signs sign-in messages with a public development key. It exists only
when the configured chain is the local devnet's, where that key's funds are worthless play money,
and it signs nothing but a sign-in message for this very deployment and its own address: it is no
general signing service, so it cannot be turned into signing a transaction or a message for
another site.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import to_checksum_address
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from voice_gateway.auth.rate_limit import RateLimiter
from voice_gateway.auth.refusal import Refusal
from voice_gateway.auth.routes import client_ip, enforce_limit, read_json_object, text_field
from voice_gateway.auth.service import AuthError, AuthService
from voice_gateway.auth.siwe import MAX_MESSAGE_CHARS, SiweError, SiweExpectations, check_fields, parse_siwe

_ADDRESS: Final = re.compile(r"0x[0-9a-fA-F]{40}")
DEVNET_WARNING: Final = "devnet only: a public development key; never use it on a real network"


@dataclass(frozen=True, slots=True)
class SignInTerms:
    """What a sign-in message must say on this deployment."""

    expectations: SiweExpectations
    chain_id: int
    statement: str = "Sign in to zgvoice."


class DevnetWallet:
    """Signs this deployment's sign-in messages with a development key (devnet only).

    Args:
        private_key: a development key (public test material).
        terms: what the messages it signs must say.
    """

    def __init__(self, private_key: str, terms: SignInTerms) -> None:
        self._account = Account.from_key(private_key)
        self._terms = terms

    @property
    def address(self) -> str:
        """The wallet's checksummed address."""
        return str(self._account.address)

    def __repr__(self) -> str:
        return f"DevnetWallet({self.address})"  # never the key

    def sign_in(self, text: str, now: datetime | None = None) -> str:
        """The 0x signature of `text`, which must be a valid sign-in message for this deployment
        and this wallet.

        Raises:
            SiweError: the text is not such a message (its code says why), or it names another
                address (`not_this_wallet`).
        """
        message = parse_siwe(text)
        check_fields(message, self._terms.expectations, now or datetime.now(UTC))
        if message.address != self.address:
            raise SiweError("not_this_wallet", "the devnet wallet signs in only as itself")
        signed = self._account.sign_message(encode_defunct(text=text))
        return "0x" + bytes(signed.signature).hex()


def mount_sign_in_off(app: FastAPI) -> None:
    """`/v1/auth/info` for a gateway without sign-in, so pages know not to ask for a wallet."""

    @app.get("/v1/auth/info")
    async def info() -> JSONResponse:
        return JSONResponse({"sign_in": False})


def sign_in_message(terms: SignInTerms, address: str, nonce: str, now: datetime) -> str:
    """The EIP-4361 message for `address` to sign here, valid for at most five minutes."""
    expect = terms.expectations
    lifetime = timedelta(seconds=min(300.0, expect.max_lifetime_s))
    scheme = f"{expect.scheme}://" if expect.scheme != "https" else ""
    return "\n".join(
        [
            f"{scheme}{expect.domain} wants you to sign in with your Ethereum account:",
            address,
            "",
            terms.statement,
            "",
            f"URI: {expect.uri}",
            "Version: 1",
            f"Chain ID: {terms.chain_id}",
            f"Nonce: {nonce}",
            f"Issued At: {_rfc3339(now)}",
            f"Expiration Time: {_rfc3339(now + lifetime)}",
        ]
    )


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def mount_page_wallet(
    app: FastAPI,
    terms: SignInTerms,
    wallet: DevnetWallet | None,
    service: AuthService,
    ip_limit: RateLimiter,
) -> None:
    """Add `/v1/auth/info`, `/v1/auth/message` and, when `wallet` is given, the devnet wallet
    routes (counting against `ip_limit`, the per-IP limit of the other sign-in routes).

    `POST /v1/auth/message {"address"}` issues a nonce and writes the message for the page's wallet
    to sign, so pages need no EIP-55 checksumming (which takes Keccak) or message formatting of
    their own; the wallet still shows the user every word, and verification checks every field.
    """
    expect = terms.expectations

    @app.post("/v1/auth/message")
    async def message(request: Request) -> JSONResponse:
        try:
            await enforce_limit(ip_limit, client_ip(request))
            body = await read_json_object(request, {"address"})
            raw = text_field(body, "address", 42)
            if not _ADDRESS.fullmatch(raw):
                raise Refusal(422, "invalid_address", "address is a 0x address of 40 hex digits")
            nonce = await service.issue_nonce(request.headers.get("origin"))
        except Refusal as refusal:
            return refusal.response()
        except AuthError:
            return Refusal(403, "origin_not_allowed", "this page may not sign in here").response()
        text = sign_in_message(terms, to_checksum_address(raw), nonce, datetime.now(UTC))
        return JSONResponse({"message": text, "nonce": nonce})

    @app.get("/v1/auth/info")
    async def info() -> JSONResponse:
        return JSONResponse(
            {
                "sign_in": True,
                "domain": expect.domain,
                "scheme": expect.scheme,
                "uri": expect.uri,
                "chain_id": terms.chain_id,
                "statement": terms.statement,
                "max_lifetime_s": expect.max_lifetime_s,
                "devnet_wallet": wallet is not None,
            }
        )

    if wallet is None:
        return

    @app.get("/v1/auth/devnet-wallet")
    async def devnet_wallet() -> JSONResponse:
        body = {"address": wallet.address, "chain_id": terms.chain_id, "warning": DEVNET_WARNING}
        return JSONResponse(body)

    @app.post("/v1/auth/devnet-wallet/sign")
    async def devnet_sign(request: Request) -> JSONResponse:
        try:
            await enforce_limit(ip_limit, client_ip(request))
            body = await read_json_object(request, {"message"})
            text = text_field(body, "message", MAX_MESSAGE_CHARS)
            signature = wallet.sign_in(text)
        except SiweError as exc:
            return JSONResponse(
                {"error": {"code": exc.code, "message": "the devnet wallet signs only this site's sign-in"}},
                status_code=422,
            )
        except Refusal as refusal:
            return refusal.response()
        return JSONResponse({"signature": signature, "warning": DEVNET_WARNING})
