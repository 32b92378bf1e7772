"""A `database` fixture for the contract tests, one parameter per backend."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.support import require_postgres
from veza.store.database import Database
from veza.store.sqlite import open_sqlite


@asynccontextmanager
async def postgres_schema(url: str) -> AsyncIterator[Database]:
    """A PostgreSQL database confined to a fresh schema, dropped afterwards."""
    import trio_asyncio

    from veza.store.postgres import open_postgres

    schema = f"test_{secrets.token_hex(6)}"
    async with trio_asyncio.open_loop(), open_postgres(url, search_path=schema) as database:
        await database.execute(f"CREATE SCHEMA {schema}")
        try:
            yield database
        finally:
            await database.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        async with open_sqlite(tmp_path / "contract.db", readers=2) as opened:
            yield opened
    else:
        async with postgres_schema(require_postgres()) as opened:
            yield opened
