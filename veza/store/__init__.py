"""Persistence: the Store that domain modules call, over a SQLite or PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from veza.config import Settings
from veza.errors import Unavailable
from veza.store.accounts import AccountsRepository
from veza.store.database import Database, DatabaseError
from veza.store.jobs import JobQueue
from veza.store.migrations import migrate
from veza.store.sqlite import open_sqlite
from veza.store.tracks import TrackRepository


class Store:
    """The one entry point to persistence; repositories hang off it as attributes."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.accounts = AccountsRepository(database, database)
        self.jobs = JobQueue(database)
        self.tracks = TrackRepository(database)

    async def check(self) -> None:
        """Raise Unavailable naming the part that failed, for readiness probes."""
        try:
            await self.database.ping()
        except DatabaseError as error:
            raise Unavailable(f"database: {error}") from error


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    if settings.database_backend == "postgresql":
        raise DatabaseError("the PostgreSQL backend is not available yet")
    async with open_sqlite(settings.sqlite_path, settings.sqlite_readers) as database:
        yield database


@asynccontextmanager
async def open_store(settings: Settings, *, apply_migrations: bool = True) -> AsyncIterator[Store]:
    """Open the configured database, bring its schema up to date, and hand out the Store."""
    async with open_database(settings) as database:
        if apply_migrations:
            await migrate(database)
        yield Store(database)


__all__ = ["Database", "DatabaseError", "Store", "open_database", "open_store"]
