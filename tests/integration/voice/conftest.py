from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.gateway import Gateway, running_gateway

# Limits small enough to reach in a test; everything else is the embedded default.
GATEWAY_SETTINGS = {
    "ZGV_VOICE__MAX_UTTERANCE_MS": "6000",
    "ZGV_VOICE__MAX_SESSIONS_PER_CLIENT": "3",
    "ZGV_VOICE__AUDIO_TTL_S": "3",
    "ZGV_VOICE__UPLOAD_MAX_SECONDS": "10",
}


@pytest.fixture(scope="package")
def gateway() -> Iterator[Gateway]:
    with running_gateway(**GATEWAY_SETTINGS) as running:
        yield running
