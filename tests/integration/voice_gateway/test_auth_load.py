"""Sign-in under concurrent load and a flood from one IP, over real TCP to a uvicorn child process.

A bounded version of `benchmarks.auth_load`, built from its functions; it asserts behaviour only
(no errors, tokens that work, 429s for the flooder alone), never speed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.auth_load import (
    FLOOD_IP,
    OTHERS_IP,
    Wallet,
    auth_server,
    bounded,
    client,
    errors,
    flooding,
    get_history,
    history_requests,
    paced_requests,
    sign_in,
    sign_in_all,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.anyio]

WALLETS = 40
REQUESTS = 200
CONCURRENCY = 20


async def test_concurrent_sign_ins_and_authenticated_requests_all_succeed(tmp_path: Path) -> None:
    wallets = [Wallet.fresh() for _ in range(WALLETS)]
    async with (
        auth_server("raised", tmp_path / "load") as served,
        client(served.base_url, served.terms.origin, OTHERS_IP, CONCURRENCY) as http,
    ):
        signed = await sign_in_all(http, served.terms, wallets, CONCURRENCY)
        assert [s.error for s in signed] == [None] * WALLETS
        assert [s.address for s in signed] == [w.address for w in wallets]
        tokens = [s.access_token for s in signed if s.access_token is not None]
        assert len(set(tokens)) == WALLETS

        replies = await history_requests(http, tokens, REQUESTS, CONCURRENCY)

    assert errors(replies) == {}
    # Request i used token i % WALLETS: every wallet's token was used, and every use succeeded.
    used = {i % WALLETS for i, reply in enumerate(replies) if reply.status == 200}
    assert used == set(range(WALLETS))


async def test_a_flood_from_one_ip_is_throttled_while_other_clients_succeed(tmp_path: Path) -> None:
    async with auth_server("default", tmp_path / "limits") as served:
        base, origin, terms = served.base_url, served.terms.origin, served.terms
        async with (
            client(base, origin, OTHERS_IP, 4) as http,
            client(base, origin, FLOOD_IP, 1) as flood_http,
        ):
            signed = await sign_in_all(http, terms, [Wallet.fresh() for _ in range(3)], 3)
            flooder = await sign_in(flood_http, terms, Wallet.fresh())
            assert flooder.access_token is not None, flooder.error
            tokens = [s.access_token for s in signed if s.access_token is not None]
            assert len(tokens) == 3, [s.error for s in signed]

            async with flooding(served, flooder.access_token, 2, tmp_path / "flood.log") as flood:
                await flood.throttled()  # both the nonce route and the history route answered 429
                during = await paced_requests(http, tokens, 5, 0.5)
                # The flooder spent its own IP's sign-in budget, not this one's.
                late = await sign_in(http, terms, Wallet.fresh())
                assert late.access_token is not None, late.error
                during += await bounded(3, 3, lambda i: get_history(http, tokens[i]))
                # And the flooder's own address is still refused.
                refused = await sign_in(flood_http, terms, Wallet.fresh())
                report = await flood.stop()

    assert len(during) == 18
    assert errors(during) == {}
    assert refused.error == "nonce 429"
    assert report["by_status"].get("429", 0) > 0
    assert set(report["by_status"]) <= {"200", "429"}
    # Every 429 said when to come back: a whole number of seconds, at least 1.
    assert report["retry_after"]
    assert all(value.isdigit() and int(value) >= 1 for value in report["retry_after"])
