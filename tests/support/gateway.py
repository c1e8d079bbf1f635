"""A real `zgv up` in a subprocess for the duration of a test module."""

from __future__ import annotations

import signal
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.support.cli import ZGV, zgv_env
from tests.support.processes import free_port, wait_until


@dataclass(frozen=True)
class Gateway:
    """Where the running gateway listens."""

    port: int
    devnet_port: int = 0  # 0: a free port only the gateway knows

    @property
    def devnet_rpc(self) -> str:
        """The devnet's JSON-RPC URL (only when the test chose the port)."""
        assert self.devnet_port, "start the gateway with running_gateway(devnet_port=...)"
        return f"http://127.0.0.1:{self.devnet_port}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/voice"


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextmanager
def running_gateway(devnet_port: int = 0, **settings: str) -> Iterator[Gateway]:
    """Start `zgv up` on a free port with extra `ZGV_` settings; stop it with SIGINT afterwards.

    Its output goes to a temporary log whose tail is shown if it fails to start.
    """
    gateway = Gateway(free_port(), devnet_port)
    env = zgv_env(**settings)
    with (
        tempfile.TemporaryFile() as log,
        subprocess.Popen(
            [str(ZGV), "up", "--port", str(gateway.port), "--devnet-port", str(devnet_port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        ) as process,
    ):
        try:
            try:
                wait_until(lambda: _healthy(gateway.http) or process.poll() is not None, 120, "the gateway")
                assert process.poll() is None, "zgv up exited during start-up"
            except AssertionError as exc:
                log.seek(0)
                tail = log.read()[-4000:].decode(errors="replace")
                raise AssertionError(f"{exc}; its log ends with:\n{tail}") from exc
            yield gateway
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
