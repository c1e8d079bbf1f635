"""Running the real `zgv` console script as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ZGV = Path(sys.executable).parent / "zgv"


def zgv_env(**settings: str) -> dict[str, str]:
    """The current environment without ZGV_ settings, plus `settings`.

    Devnet storage ports default to "any free port", so tests never collide with each other or with a
    devnet someone runs on the standard ports.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZGV_")}
    env.update({"ZGV_DEVNET__STORAGE_PORT": "0", "ZGV_DEVNET__INDEXER_PORT": "0", "ZGV_DEVNET__KV_PORT": "0"})
    # State files of their own: an outbox shared between tests on different devnets would make the
    # transaction manager recover (re-send) another devnet's intents.
    state = Path(tempfile.mkdtemp(prefix="zgv-test-"))
    env.update(
        {
            "ZGV_STORAGE__OUTBOX_PATH": str(state / "outbox.db"),
            "ZGV_MCP_TOOLS__HANDLES_PATH": str(state / "handles.db"),
            "ZGV_MCP_TOOLS__SPENDS_PATH": str(state / "spends.db"),
            "ZGV_MCP_TOOLS__FILES_DIR": str(state / "files"),
            "ZGV_MCP_TOOLS__FILES_LEDGER": str(state / "files.json"),
            "ZGV_PROFILES__MASTER_KEY_PATH": str(state / "master.key"),
            "ZGV_PROFILES__BLOBS_PATH": str(state / "profiles.db"),
            "ZGV_PROFILES__KEYS_PATH": str(state / "data-keys.db"),
        }
    )
    env.update(settings)
    return env


def run_zgv(
    *args: str | bytes, env: dict[str, str] | None = None, stdin: bytes | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    """Run `zgv ARGS...` to completion and capture its output."""
    return subprocess.run(
        [str(ZGV), *args],
        input=stdin,
        capture_output=True,
        env=env if env is not None else zgv_env(),
        timeout=timeout,
        check=False,
    )
