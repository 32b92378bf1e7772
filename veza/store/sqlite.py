"""The SQLite backend: one writer connection behind a lock, a small pool of readers, WAL."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import trio

from veza.store.database import DatabaseError, Executor, IntegrityError, Params, Row

T = TypeVar("T")

_PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
    # FULL: a committed transaction survives a power cut, not only a process crash.
    "PRAGMA synchronous = FULL",
)


def _connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    uri = f"{path.resolve().as_uri()}?mode={'ro' if read_only else 'rwc'}"
    # check_same_thread=False: trio's thread cache does not promise the same thread each call;
    # each connection is still used by one thread at a time (the lock or the pool ensures it).
    connection = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    connection.row_factory = sqlite3.Row
    for pragma in _PRAGMAS[1:] if read_only else _PRAGMAS:
        connection.execute(pragma)
    return connection


def _close_all(connections: list[sqlite3.Connection]) -> None:
    for connection in connections:
        connection.close()


def _translate(error: sqlite3.Error) -> DatabaseError:
    if isinstance(error, sqlite3.IntegrityError):
        return IntegrityError(str(error))
    return DatabaseError(str(error))


def _run(connection: sqlite3.Connection, sql: str, params: Params) -> sqlite3.Cursor:
    try:
        return connection.execute(sql, tuple(params))
    except sqlite3.Error as error:
        raise _translate(error) from error


def _fetch_all(connection: sqlite3.Connection, sql: str, params: Params) -> list[Row]:
    return [dict(row) for row in _run(connection, sql, params).fetchall()]


def _fetch_one(connection: sqlite3.Connection, sql: str, params: Params) -> Row | None:
    row = _run(connection, sql, params).fetchone()
    return None if row is None else dict(row)


def _rollback(connection: sqlite3.Connection) -> None:
    # Best effort: when the connection itself is broken there is nothing to roll back, and the
    # error that brought us here is the one worth reporting.
    with contextlib.suppress(sqlite3.Error):
        if connection.in_transaction:
            connection.execute("ROLLBACK")


def _execute(connection: sqlite3.Connection, sql: str, params: Params) -> int:
    return _run(connection, sql, params).rowcount


def _begin_then(
    connection: sqlite3.Connection, function: Callable[..., T], sql: str, params: Params
) -> T:
    _run(connection, "BEGIN IMMEDIATE", ())
    return function(connection, sql, params)


class _Connection(Executor):
    """One connection whose calls go to a worker thread behind a limiter."""

    def __init__(self, connection: sqlite3.Connection, limiter: trio.CapacityLimiter) -> None:
        self.connection = connection
        self.limiter = limiter
        self.closed = False

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        if self.closed:
            raise DatabaseError("the database is closed")
        return await trio.to_thread.run_sync(function, self.connection, *args, limiter=self.limiter)

    async def execute(self, sql: str, params: Params = ()) -> int:
        return await self.call(_execute, sql, params)

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return await self.call(_fetch_all, sql, params)

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        return await self.call(_fetch_one, sql, params)


class _Transaction(Executor):
    """The writer inside `transaction()`. BEGIN IMMEDIATE goes to the thread with the first
    statement: each statement is a trip to the writer's thread (a send in the chat is four
    statements and a COMMIT), and the BEGIN alone was one more."""

    def __init__(self, writer: _Connection) -> None:
        self._writer = writer
        self.begun = False

    async def _call(self, function: Callable[..., T], sql: str, params: Params) -> T:
        if self.begun:
            return await self._writer.call(function, sql, params)
        # Set first: should the trip be cancelled once BEGIN ran, the rollback still follows
        # (it looks at the connection itself, so a BEGIN that failed needs nothing).
        self.begun = True
        return await self._writer.call(_begin_then, function, sql, params)

    async def execute(self, sql: str, params: Params = ()) -> int:
        return await self._call(_execute, sql, params)

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return await self._call(_fetch_all, sql, params)

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        return await self._call(_fetch_one, sql, params)


class SQLiteDatabase:
    """Writes are serialised through one connection; reads go to a pool of read-only ones."""

    dialect = "sqlite"

    def __init__(self, writer: sqlite3.Connection, readers: list[sqlite3.Connection]) -> None:
        self._writer = _Connection(writer, trio.CapacityLimiter(1))
        self._write_lock = trio.Lock()
        self._reader_limiter = trio.CapacityLimiter(len(readers))
        self._readers = readers
        self._idle_send, self._idle_receive = trio.open_memory_channel[sqlite3.Connection](
            len(readers)
        )
        for reader in readers:
            self._idle_send.send_nowait(reader)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Executor]:
        async with self._write_lock:
            transaction = _Transaction(self._writer)
            try:
                yield transaction
                if transaction.begun:  # no statement, nothing begun: nothing to commit
                    with trio.CancelScope(shield=True):
                        await self._writer.execute("COMMIT")
            except BaseException:
                # Shielded: a cancelled task must still leave the connection out of the
                # transaction, or the next writer would inherit it.
                with trio.CancelScope(shield=True):
                    await self._writer.call(_rollback)
                raise

    async def execute(self, sql: str, params: Params = ()) -> int:
        async with self.transaction() as tx:
            return await tx.execute(sql, params)

    @asynccontextmanager
    async def _reader(self) -> AsyncIterator[_Connection]:
        try:
            connection = await self._idle_receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise DatabaseError("the database is closed") from None
        try:
            yield _Connection(connection, self._reader_limiter)
        finally:
            self._idle_send.send_nowait(connection)

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._reader() as reader:
            return await reader.fetch_all(sql, params)

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        async with self._reader() as reader:
            return await reader.fetch_one(sql, params)

    async def ping(self) -> None:
        await self.fetch_one("SELECT 1 AS one")

    async def aclose(self) -> None:
        """Close every connection once no thread is using it; later calls raise DatabaseError.
        (Closing a connection that another thread is using can crash the interpreter.)"""
        with trio.CancelScope(shield=True):
            async with self._write_lock:
                if self._writer.closed:
                    return
                idle = [await self._idle_receive.receive() for _ in self._readers]
                await self._idle_send.aclose()
                self._writer.closed = True
                await trio.to_thread.run_sync(_close_all, [self._writer.connection, *idle])


def open_sqlite_sync(path: Path, readers: int) -> SQLiteDatabase:
    """Open (creating if needed) the database file and its connections; blocking."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        writer = _connect(path, read_only=False)
        return SQLiteDatabase(writer, [_connect(path, read_only=True) for _ in range(readers)])
    except sqlite3.Error as error:
        raise DatabaseError(f"cannot open SQLite database {path}: {error}") from error


@asynccontextmanager
async def open_sqlite(path: Path, readers: int = 4) -> AsyncIterator[SQLiteDatabase]:
    database = await trio.to_thread.run_sync(open_sqlite_sync, path, readers)
    try:
        yield database
    finally:
        await database.aclose()
