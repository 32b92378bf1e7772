"""PostgreSQL for tests: a database confined to a fresh schema."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from veza.store.database import Database


@asynccontextmanager
async def postgres_schema(url: str) -> AsyncIterator[Database]:
    """A PostgreSQL database confined to a fresh schema, dropped afterwards."""
    import trio_asyncio

    from veza.store.postgres import log_asyncio_errors, open_postgres

    schema = f"test_{secrets.token_hex(6)}"
    async with trio_asyncio.open_loop() as loop, open_postgres(url, search_path=schema) as database:
        log_asyncio_errors(loop)  # as `veza serve` does (veza/store/__init__.py)
        await database.execute(f"CREATE SCHEMA {schema}")
        try:
            yield database
        finally:
            await database.execute(f"DROP SCHEMA {schema} CASCADE")
