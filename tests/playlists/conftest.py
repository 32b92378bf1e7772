"""The server of the playlist tests, once on SQLite and once on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support import require_postgres
from tests.support.accounts import FAST
from tests.support.postgres import postgres_schema
from tests.support.server import RunningServer, make_settings, serving
from veza.config import Settings


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        require_postgres()  # skips here, in a sync fixture, so the reason is kept
    return str(request.param)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data", **FAST)


@pytest.fixture
async def server(backend: str, tmp_path: Path) -> AsyncIterator[RunningServer]:
    if backend == "sqlite":
        async with serving(make_settings(tmp_path / "data", **FAST)) as running:
            yield running
        return
    url = require_postgres()
    async with postgres_schema(url) as database:
        row = await database.fetch_one("SELECT current_schema() AS s")
        assert row is not None
        settings = make_settings(
            tmp_path / "data", database_url=f"{url}?search_path={row['s']}", **FAST
        )
        async with serving(settings) as running:
            yield running
