"""`zgvoice.login` against a real `zgv up`: signing in with a key of one's own or the devnet wallet,
voice tickets, and clear errors when the gateway is not there."""

from __future__ import annotations

import pytest
from eth_account import Account

from tests.support.gateway import Gateway
from tests.support.processes import free_port
from zgvoice.login import LoginError, VoiceTickets, sign_in, sign_in_blocking, sign_in_required, voice_ticket

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

KEY = (9191).to_bytes(32, "big")


async def test_a_key_of_ones_own_and_the_devnet_wallet_sign_in(gateway: Gateway) -> None:
    assert await sign_in_required(gateway.http)
    mine = await sign_in(gateway.http, KEY)
    assert mine.address == Account.from_key(KEY).address
    assert mine.access_token not in repr(mine)
    devnet = sign_in_blocking(gateway.http)
    assert devnet.address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert await voice_ticket(mine) != await voice_ticket(mine)  # one ticket per socket


async def test_ticketed_urls_carry_a_fresh_ticket_each_time(gateway: Gateway) -> None:
    tickets = VoiceTickets()
    first, second = await tickets.url(gateway.ws), await tickets.url(gateway.ws)
    assert first.startswith(f"{gateway.ws}?ticket=")
    assert first != second


async def test_no_gateway_is_a_clear_error() -> None:
    with pytest.raises(LoginError, match="unreachable"):
        await sign_in(f"http://127.0.0.1:{free_port()}")
