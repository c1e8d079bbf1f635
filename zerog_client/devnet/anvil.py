"""Runs the devnet's EVM node (anvil) as a child process that can never outlive its parent.

The child gets `PR_SET_PDEATHSIG`, so the kernel kills it even when our process is SIGKILLed, and
its own session, so a terminal's Ctrl-C reaches us first and we stop it in order.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from zerog_client.errors import ZeroGError
from zerog_client.networks import DEVNET

_LISTENING = re.compile(r"Listening on ([0-9.]+):(\d+)")
_PR_SET_PDEATHSIG = 1
_ANVIL_PACKAGE_BIN = Path("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")


class DevnetStartError(ZeroGError):
    """The devnet node could not be started (binary missing, port taken, no answer in time)."""

    code = "devnet_start_failed"


def find_anvil(explicit: Path | None = None, search_dirs: tuple[Path, ...] = ()) -> Path:
    """Locate the anvil binary.

    Args:
        explicit: a path given by configuration; used as is when set.
        search_dirs: npm prefixes to look in (each holding `node_modules/@foundry-rs/...`).

    Raises:
        DevnetStartError: no executable anvil was found.
    """
    candidates: list[Path] = []
    if explicit is not None:
        candidates.append(explicit)
    else:
        candidates.extend(d / _ANVIL_PACKAGE_BIN for d in search_dirs)
        on_path = shutil.which("anvil")
        if on_path:
            candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    looked = ", ".join(str(c) for c in candidates) or "PATH"
    raise DevnetStartError(f"anvil not found (looked in {looked}); run the set-up script first")


@dataclass(frozen=True, slots=True)
class AnvilConfig:
    """How to start the node. Port 0 lets the OS choose a free port."""

    binary: Path
    host: str = "127.0.0.1"
    port: int = 0
    chain_id: int = DEVNET.chain_id
    accounts: int = 10
    balance_0g: int = 10_000
    block_time_s: float | None = None
    state_path: Path | None = None
    startup_timeout_s: float = 15.0
    extra_args: tuple[str, ...] = field(default=())


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: ask the kernel to SIGKILL it when the parent dies.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class AnvilNode:
    """One running anvil process. Start with `start()` or `with AnvilNode(cfg) as node:`."""

    def __init__(self, config: AnvilConfig) -> None:
        self.config = config
        self._process: subprocess.Popen[bytes] | None = None
        self._log_dir: tempfile.TemporaryDirectory[str] | None = None
        self.rpc_url = ""
        self.port = 0

    @property
    def pid(self) -> int:
        """Process id of the running node."""
        if self._process is None:
            raise DevnetStartError("the devnet node is not running")
        return self._process.pid

    @property
    def log_path(self) -> Path:
        """Where the node's output goes."""
        if self._log_dir is None:
            raise DevnetStartError("the devnet node is not running")
        return Path(self._log_dir.name) / "anvil.log"

    def __enter__(self) -> AnvilNode:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _command(self) -> list[str]:
        cfg = self.config
        cmd = [
            str(cfg.binary),
            "--host", cfg.host,
            "--port", str(cfg.port),
            "--chain-id", str(cfg.chain_id),
            "--accounts", str(cfg.accounts),
            "--balance", str(cfg.balance_0g),
        ]  # fmt: skip
        if cfg.block_time_s is not None:
            cmd += ["--block-time", str(cfg.block_time_s)]
        if cfg.state_path is not None:
            cmd += ["--state", str(cfg.state_path)]
        return cmd + list(cfg.extra_args)

    def start(self) -> None:
        """Start the node and return once it answers `eth_chainId` with the configured id.

        Raises:
            DevnetStartError: it exited early, never answered, or answered for another chain.
        """
        if self._process is not None:
            raise DevnetStartError("the devnet node is already running")
        self._log_dir = tempfile.TemporaryDirectory(prefix="zgv-anvil-")
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, no locks taken
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.config.startup_timeout_s
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise DevnetStartError(
                    f"anvil exited with code {self._process.returncode}: {self._log_tail()}"
                )
            if not self.rpc_url:
                match = _LISTENING.search(self.log_path.read_text(errors="replace"))
                if match:
                    self.port = int(match.group(2))
                    self.rpc_url = f"http://{self.config.host}:{self.port}"
            if self.rpc_url:
                served = _chain_id(self.rpc_url)
                if served is not None:
                    if served != self.config.chain_id:
                        raise DevnetStartError(
                            f"anvil reports chain {served}, expected {self.config.chain_id}"
                        )
                    return
            time.sleep(0.02)  # polling interval of a deadline loop, not a wait for a condition
        raise DevnetStartError(
            f"anvil did not answer within {self.config.startup_timeout_s} s: {self._log_tail()}"
        )

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-500:].strip()
        except OSError:
            return "(no output)"

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the node: SIGTERM, then SIGKILL after `timeout_s`. Safe to call twice."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log_dir is not None:
            with contextlib.suppress(OSError):
                self._log_dir.cleanup()
            self._log_dir = None


def _chain_id(rpc_url: str) -> int | None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    request = urllib.request.Request(rpc_url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=1.0) as response:
            return int(json.loads(response.read())["result"], 16)
    except (OSError, urllib.error.URLError, ValueError, KeyError):
        return None
