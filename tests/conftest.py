"""Shared fixtures: marker discipline, the anyio backend, and a real anvil devnet node."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.processes import free_port
from zerog_client.devnet import AnvilNode
from zgvoice.devnet import devnet_node
from zgvoice.settings import DevnetSettings

_KIND_MARKERS = ("unit", "integration", "e2e")

__all__ = ["free_port"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = sorted({item.nodeid.split("::")[0] for item in items if not _has_kind(item)})
    if unmarked:
        raise pytest.UsageError(
            "every test module needs a pytestmark of unit, integration or e2e; missing in: "
            + ", ".join(unmarked)
        )


def _has_kind(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(kind) is not None for kind in _KIND_MARKERS)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def anvil() -> Iterator[AnvilNode]:
    """One real anvil for the session, on a free port, with the devnet chain id."""
    with devnet_node(DevnetSettings(port=0)) as node:
        yield node
