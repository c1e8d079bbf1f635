"""The mic page and the embeddable component's files."""

from __future__ import annotations

import urllib.request

import pytest

from tests.support.gateway import Gateway

pytestmark = [pytest.mark.integration]


def request(
    gateway: Gateway, path: str, method: str = "GET", origin: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    headers = {"Origin": origin} if origin else {}
    req = urllib.request.Request(f"{gateway.http}{path}", method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=10) as response:
        return response.status, dict(response.headers.items()), response.read()


def test_the_mic_page_is_served_at_the_root(gateway: Gateway) -> None:
    status, headers, body = request(gateway, "/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert b"zg-voice" in body
    assert request(gateway, "/", method="HEAD")[0] == 200


@pytest.mark.parametrize("name", ["zg-voice.js", "capture-worklet.js", "playback-worklet.js", "resampler.js"])
def test_component_files_are_cross_origin_readable_only_by_allowed_origins(
    gateway: Gateway, name: str
) -> None:
    allowed = f"http://127.0.0.1:{gateway.port}"
    status, headers, body = request(gateway, f"/static/{name}", origin=allowed)
    assert status == 200
    assert body
    assert headers["access-control-allow-origin"] == allowed
    assert "Origin" in headers["vary"]
    _, foreign, _ = request(gateway, f"/static/{name}", origin="https://evil.example")
    assert "access-control-allow-origin" not in {k.lower() for k in foreign}
