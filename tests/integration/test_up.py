"""`zgv up`: devnet + gateway as one process tree, answering over real HTTP, and stopping cleanly."""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.error
import urllib.request

import pytest

from tests.support.cli import ZGV, zgv_env
from tests.support.processes import children_of, free_port, is_alive, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def http_json(
    url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        with err:  # it holds the connection
            return err.code, json.loads(err.read())


def answers(url: str) -> bool:
    try:
        return http_json(url)[0] == 200
    except (OSError, ValueError):
        return False


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_up_serves_real_balances_and_stops_everything(stop_signal: signal.Signals) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with subprocess.Popen(
        [str(ZGV), "up", "--port", str(port), "--devnet-port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=zgv_env(ZGV_TTS__WARM_UP="false"),
    ) as process:
        try:
            wait_until(lambda: answers(f"{base}/healthz") or process.poll() is not None, 60, "the gateway")
            assert process.poll() is None
            anvils = children_of(process.pid)
            assert len(anvils) == 1

            question = b'{"text":"what is my balance"}'
            assert http_json(f"{base}/v1/ask", question)[0] == 401  # sign-in is on by default
            # `zgv login` signs in with the devnet's built-in wallet and prints an access token.
            login_command = [str(ZGV), "login", "--url", base]
            login = subprocess.run(login_command, capture_output=True, env=zgv_env(), timeout=30, check=False)
            assert login.returncode == 0, login.stderr.decode()
            bearer = {"Authorization": f"Bearer {login.stdout.decode().strip()}"}
            status, body = http_json(f"{base}/v1/ask", question, bearer)
            assert status == 200
            assert body["reply"] == "You have 10,000 0G."
            status, body = http_json(f"{base}/v1/ask", b'{"text":""}', bearer)
            assert status == 422

            process.send_signal(stop_signal)
            assert process.wait(timeout=20) == 0
        finally:
            if process.poll() is None:
                process.kill()
    wait_until(lambda: not any(is_alive(pid) for pid in anvils), 5, "the devnet to stop")
    assert not answers(f"{base}/healthz")


def test_a_signal_during_start_up_still_stops_cleanly() -> None:
    port = free_port()
    with subprocess.Popen(
        [str(ZGV), "up", "--port", str(port), "--devnet-port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=zgv_env(),  # with the voice warm-up, start-up lasts long enough to be interrupted
    ) as process:
        try:
            wait_until(lambda: bool(children_of(process.pid)) or process.poll() is not None, 30, "the devnet")
            anvils = children_of(process.pid)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
    wait_until(lambda: not any(is_alive(pid) for pid in anvils), 5, "the devnet to stop")
