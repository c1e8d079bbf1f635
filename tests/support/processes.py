"""Process and port helpers for tests: liveness that treats zombies as dead, children from /proc."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def is_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def children_of(pid: int) -> list[int]:
    """Direct children of `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry.name))
    return found


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll `condition` until it holds; fail with `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)  # poll interval of a deadline loop
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


async def wait_until_async(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """`wait_until` for async tests: yields to the event loop between polls."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(0.02)  # poll interval of a deadline loop
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


async def poll_until(condition: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    """`wait_until_async` for conditions that need to await (a chain read, a database query)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.05)  # poll interval of a deadline loop
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


async def wait_listening(port: int, process: Any, timeout_s: float = 60.0) -> None:
    """Poll until something accepts TCP connections on 127.0.0.1:`port`; fail if `process` (an anyio
    Process) exits first or `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.returncode is None, f"the server for port {port} exited early"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        await asyncio.sleep(0.1)  # poll interval of a deadline loop
    raise AssertionError(f"nothing listening on {port} after {timeout_s} s")
