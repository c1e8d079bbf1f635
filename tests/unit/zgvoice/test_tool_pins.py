from __future__ import annotations

import pytest

from zgvoice.pins import current_pins, load_pins

pytestmark = [pytest.mark.unit, pytest.mark.anyio]


async def test_the_committed_pins_match_the_servers() -> None:
    # A tool whose definition changed must be reviewed and re-pinned (python -m zgvoice.pins --write).
    assert await current_pins() == load_pins()
