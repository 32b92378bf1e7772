"""The PostgreSQL backend: asyncpg through trio-asyncio, the same portable SQL as SQLite.

Every call crosses into asyncio with `aio_as_trio`; the caller must run inside
`trio_asyncio.open_loop()` (the supervisor opens it when the database URL is PostgreSQL)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import trio
from trio_asyncio import aio_as_trio

from veza.store.database import DatabaseError, Executor, IntegrityError, Params, Row

try:
    import asyncpg
except ImportError:  # the [postgres] extra is not installed
    asyncpg = None

T = TypeVar("T")

_PLACEHOLDER = re.compile(r"\?")


def to_numbered(sql: str) -> str:
    """`?` placeholders (our portable SQL) to asyncpg's `$1, $2, ...`."""
    counter = iter(range(1, 10_000))
    return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql)


def _changed_rows(status: str) -> int:
    # asyncpg returns the command tag, e.g. "UPDATE 3" or "INSERT 0 1".
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


async def _call(function: Callable[..., Awaitable[T]], *args: Any) -> T:
    try:
        result: T = await aio_as_trio(function)(*args)
        return result
    except asyncpg.IntegrityConstraintViolationError as error:
        raise IntegrityError(str(error)) from error
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
        raise DatabaseError(str(error)) from error


class _Connection(Executor):
    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def execute(self, sql: str, params: Params = ()) -> int:
        return _changed_rows(await _call(self.connection.execute, to_numbered(sql), *params))

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        rows = await _call(self.connection.fetch, to_numbered(sql), *params)
        return [dict(row) for row in rows]

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        row = await _call(self.connection.fetchrow, to_numbered(sql), *params)
        return None if row is None else dict(row)


class PostgresDatabase:
    """A connection pool; each transaction holds one connection for its duration."""

    dialect = "postgresql"

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._autocommit = _Connection(pool)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Executor]:
        connection = await _call(self._pool.acquire)
        try:
            transaction = connection.transaction()
            await _call(transaction.start)
            try:
                yield _Connection(connection)
                with trio.CancelScope(shield=True):
                    await _call(transaction.commit)
            except BaseException:
                # A broken connection has nothing to roll back; the first error is the news.
                with trio.CancelScope(shield=True), contextlib.suppress(DatabaseError):
                    await _call(transaction.rollback)
                raise
        finally:
            with trio.CancelScope(shield=True):
                await _call(self._pool.release, connection)

    async def execute(self, sql: str, params: Params = ()) -> int:
        return await self._autocommit.execute(sql, params)

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return await self._autocommit.fetch_all(sql, params)

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        return await self._autocommit.fetch_one(sql, params)

    async def ping(self) -> None:
        await self.fetch_one("SELECT 1 AS one")

    async def aclose(self) -> None:
        with trio.CancelScope(shield=True):
            await _call(self._pool.close)


@asynccontextmanager
async def open_postgres(
    url: str, *, min_size: int = 1, max_size: int = 10, search_path: str | None = None
) -> AsyncIterator[PostgresDatabase]:
    if asyncpg is None:
        raise DatabaseError("PostgreSQL needs the [postgres] extra: pip install 'veza[postgres]'")
    settings = {"search_path": search_path} if search_path else {}
    try:
        pool = await aio_as_trio(asyncpg.create_pool)(
            url, min_size=min_size, max_size=max_size, server_settings=settings, timeout=10
        )
    except (asyncpg.PostgresError, OSError, ValueError) as error:
        raise DatabaseError(f"cannot connect to PostgreSQL: {error}") from error
    database = PostgresDatabase(pool)
    try:
        yield database
    finally:
        await database.aclose()
