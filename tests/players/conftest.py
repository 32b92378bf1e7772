"""Fixtures of the player tests: the test page's origin, and Veza allowing it (CORS) with the
one-codec AAC ladder players can switch within."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.players.site import static_site
from tests.support.accounts import fast_settings
from veza.config import Settings

AAC_LADDER = "aac:256,aac:128,aac:64"


@pytest.fixture
async def site() -> AsyncIterator[str]:
    """The origin (http://127.0.0.1:PORT) of the test page, another than Veza's."""
    async with static_site() as origin:
        yield origin


@pytest.fixture
async def settings(tmp_path: Path, site: str) -> Settings:
    return fast_settings(tmp_path, cors_origins=site, ladder=AAC_LADDER)
