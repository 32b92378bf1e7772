"""Persistence: the Store that domain modules call, over a SQLite or PostgreSQL database."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import trio

from veza.config import Settings
from veza.errors import Unavailable
from veza.store.accounts import AccountsRepository
from veza.store.albums import AlbumRepository
from veza.store.chat import ChatRepository
from veza.store.database import Database, DatabaseError, Executor
from veza.store.folders import FolderRepository
from veza.store.jobs import JobQueue
from veza.store.migrations import (
    MIGRATIONS,
    applied_versions,
    latest_version,
    migrate,
    refuse_newer,
)
from veza.store.playlists import PlaylistRepository, QueueRepository
from veza.store.snapshot import sqlite_snapshot
from veza.store.sqlite import open_sqlite
from veza.store.stats import StatsRepository
from veza.store.tracks import TrackRepository
from veza.store.usage import UsageRepository

log = logging.getLogger(__name__)


class Repositories:
    """One repository per noun, every one bound to the same executor."""

    def __init__(self, executor: Executor, dialect: str) -> None:
        self.accounts = AccountsRepository(executor)
        self.chat = ChatRepository(executor)
        self.jobs = JobQueue(executor)
        self.playlists = PlaylistRepository(executor, dialect)
        self.queues = QueueRepository(executor)
        self.tracks = TrackRepository(executor)
        self.albums = AlbumRepository(executor)
        # The library: music folders, listening stats, storage per user.
        self.folders = FolderRepository(executor)
        self.stats = StatsRepository(executor)
        self.usage = UsageRepository(executor)


class Transaction(Repositories):
    """The repositories inside one transaction: every statement commits together, or none do.
    Work that must follow the commit (publishing an event) is registered with `on_commit` and
    runs only once the commit succeeded."""

    def __init__(self, executor: Executor, dialect: str) -> None:
        super().__init__(executor, dialect)
        self.executor = executor
        self._on_commit: list[Callable[[], object]] = []

    def on_commit(self, callback: Callable[[], object]) -> None:
        self._on_commit.append(callback)


class Store(Repositories):
    """The one entry point to persistence. Its repositories run each statement on its own;
    `transaction()` hands out the same repositories bound to one transaction. That is the one
    transaction idiom: every multi-statement change, of one noun or several, is written as

        async with store.transaction() as tx:
            await tx.tracks.create(new)
            await tx.jobs.enqueue(...)
    """

    def __init__(self, database: Database) -> None:
        super().__init__(database, database.dialect)
        self.database = database

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self.database.transaction() as executor:
            tx = Transaction(executor, self.database.dialect)
            yield tx
        for callback in tx._on_commit:
            callback()

    async def check(self) -> None:
        """Raise Unavailable naming the part that failed, for readiness probes."""
        try:
            await self.database.ping()
        except DatabaseError as error:
            raise Unavailable(f"database: {error}") from error


@asynccontextmanager
async def database_runtime(settings: Settings) -> AsyncIterator[None]:
    """What the backend needs around every task that uses it: an asyncio loop inside Trio for
    PostgreSQL (asyncpg), nothing for SQLite. Open it above the nurseries whose tasks use the
    store, so they all inherit it; inside one already open, it adds nothing."""
    if settings.database_backend != "postgresql":
        yield
        return
    try:
        import trio_asyncio
    except ImportError:
        raise DatabaseError(
            "PostgreSQL needs the [postgres] extra: pip install 'veza[postgres]'"
        ) from None
    if trio_asyncio.current_loop.get() is not None:
        yield
        return
    from veza.store.postgres import log_asyncio_errors

    async with trio_asyncio.open_loop() as loop:
        log_asyncio_errors(loop)
        yield


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    """The configured backend. For PostgreSQL, tasks other than this one can use the database
    only when `database_runtime` was opened above them (the supervisor does)."""
    if settings.database_backend == "postgresql":
        from veza.store.postgres import open_postgres

        async with database_runtime(settings), open_postgres(settings.database_url) as database:
            yield database
        return
    async with open_sqlite(settings.sqlite_path, settings.sqlite_readers) as database:
        yield database


@asynccontextmanager
async def open_store(settings: Settings, *, apply_migrations: bool = True) -> AsyncIterator[Store]:
    """Open the configured database, bring its schema up to date, and hand out the Store."""
    async with open_database(settings) as database:
        if apply_migrations:
            await keep_before_migrating(settings, database)
            await migrate(database)
        yield Store(database)


async def keep_before_migrating(settings: Settings, database: Database) -> None:
    """A SQLite database with a schema that migrations are about to change is first copied
    (online backup API) to `veza.db.before-vN.bak` beside it, N the version migrated to: the
    way back if the new Veza disappoints. An existing copy is kept (the earliest is the one
    worth having)."""
    if settings.database_backend != "sqlite":
        return  # PostgreSQL: pg_dump before upgrading (docs/deployment.md)
    applied = await applied_versions(database)
    refuse_newer(applied)
    if not applied or set(applied) >= {m.version for m in MIGRATIONS}:
        return  # a new database, or one up to date
    path = settings.sqlite_path
    kept = path.with_name(f"{path.name}.before-v{latest_version()}.bak")
    if await trio.to_thread.run_sync(kept.exists):
        return
    await trio.to_thread.run_sync(sqlite_snapshot, path, kept)
    log.warning(
        "schema version %d -> %d: the database was first copied to %s",
        max(applied),
        latest_version(),
        kept,
    )


__all__ = [
    "Database",
    "DatabaseError",
    "Repositories",
    "Store",
    "Transaction",
    "database_runtime",
    "keep_before_migrating",
    "open_database",
    "open_store",
]
