"""A `database` fixture for the contract tests, one parameter per backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support import require_postgres
from tests.support.postgres import postgres_schema
from veza.store.database import Database
from veza.store.sqlite import open_sqlite


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        async with open_sqlite(tmp_path / "contract.db", readers=2) as opened:
            yield opened
    else:
        async with postgres_schema(require_postgres()) as opened:
            yield opened
