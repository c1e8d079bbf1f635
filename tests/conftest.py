"""Shared fixtures: marker discipline, the anyio backend, a real anvil devnet node, and the local
PostgreSQL and Redis (tests.support.services)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.processes import free_port
from tests.support.services import postgres_dsn, redis_url
from zerog_client.devnet import AnvilNode
from zgvoice.devnet import devnet_node
from zgvoice.settings import DevnetSettings

_KIND_MARKERS = ("unit", "integration", "e2e")

__all__ = ["free_port", "postgres_dsn", "redis_url"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = sorted({item.nodeid.split("::")[0] for item in items if not _has_kind(item)})
    if unmarked:
        raise pytest.UsageError(
            "every test module needs a pytestmark of unit, integration or e2e; missing in: "
            + ", ".join(unmarked)
        )


def _has_kind(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(kind) is not None for kind in _KIND_MARKERS)


@pytest.fixture(autouse=True)
def isolated_state(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test's settings point their state files (outbox, ledgers, profiles, keys) at a fresh
    directory: an outbox left by a test on another devnet would be recovered (re-sent) here."""
    state = tmp_path_factory.mktemp("state")
    for name, file in (
        ("ZGV_STORAGE__OUTBOX_PATH", "outbox.db"),
        ("ZGV_MCP_TOOLS__HANDLES_PATH", "handles.db"),
        ("ZGV_MCP_TOOLS__SPENDS_PATH", "spends.db"),
        ("ZGV_MCP_TOOLS__FILES_DIR", "files"),
        ("ZGV_MCP_TOOLS__FILES_LEDGER", "files.json"),
        ("ZGV_PROFILES__MASTER_KEY_PATH", "master.key"),
        ("ZGV_PROFILES__BLOBS_PATH", "profiles.db"),
        ("ZGV_PROFILES__KEYS_PATH", "data-keys.db"),
        ("ZGV_AUTH__SIGNING_KEY_PATH", "auth-signing.key"),
        ("ZGV_AUTH__ANALYTICS_PATH", "analytics.db"),
    ):
        monkeypatch.setenv(name, str(state / file))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def anvil() -> Iterator[AnvilNode]:
    """One real anvil for the session, on a free port, with the devnet chain id."""
    with devnet_node(DevnetSettings(port=0)) as node:
        yield node
