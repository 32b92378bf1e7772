"""The PostgreSQL backend: asyncpg through trio-asyncio, the same portable SQL as SQLite.

Every call crosses into asyncio with `aio_as_trio`; the caller must run inside
`trio_asyncio.open_loop()` (the supervisor opens it when the database URL is PostgreSQL)."""

from __future__ import annotations

import contextlib
import functools
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import trio
from trio_asyncio import aio_as_trio

from veza.store.database import DatabaseError, Executor, IntegrityError, Params, Row

log = logging.getLogger(__name__)

try:
    import asyncpg
except ImportError:  # the [postgres] extra is not installed
    asyncpg = None

T = TypeVar("T")

# Every wait on the network is bounded (a dead connection must not hang a request, or the
# shutdown, forever).
CONNECT_TIMEOUT_S = 10.0
ACQUIRE_TIMEOUT_S = 10.0
COMMAND_TIMEOUT_S = 30.0
SHIELDED_TIMEOUT_S = 10.0

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


@contextlib.contextmanager
def _shielded() -> Iterator[trio.CancelScope]:
    """Protected from cancellation (a commit or release must finish) but not for ever."""
    with trio.CancelScope(shield=True, deadline=trio.current_time() + SHIELDED_TIMEOUT_S) as scope:
        yield scope


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
        connection = await _call(functools.partial(self._pool.acquire, timeout=ACQUIRE_TIMEOUT_S))
        try:
            transaction = connection.transaction()
            try:
                # Inside: a start cancelled once PostgreSQL began the transaction is undone too.
                await _call(transaction.start)
                yield _Connection(connection)
                with _shielded() as deadline:
                    await _call(transaction.commit)
                if deadline.cancelled_caught:
                    raise DatabaseError("PostgreSQL did not confirm the commit in time")
            except BaseException:
                # A broken connection has nothing to roll back; the first error is the news.
                # (One that cannot roll back now is rolled back by the pool on release.)
                with _shielded(), contextlib.suppress(DatabaseError):
                    await _call(transaction.rollback)
                raise
        finally:
            with _shielded():
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
        with _shielded() as deadline:
            await _call(self._pool.close)
        if deadline.cancelled_caught:
            self._pool.terminate()


async def _nothing_to_reset(connection: Any) -> None:
    """What the pool runs on a connection given back, after asyncpg's own part (it rolls back an
    open transaction and forgets listeners). Its default also ran `pg_advisory_unlock_all()`,
    `CLOSE ALL`, `UNLISTEN *` and `RESET ALL`: a round trip on every release, so two for each
    statement run outside a transaction. Our statements leave none of that behind: no `SET`,
    no session advisory lock (migrations take a transaction's), no cursor outside a
    transaction, no LISTEN on a pooled connection (the relay listens on its own)."""


@asynccontextmanager
async def open_postgres(
    url: str, *, min_size: int = 1, max_size: int = 10, search_path: str | None = None
) -> AsyncIterator[PostgresDatabase]:
    if asyncpg is None:
        raise DatabaseError("PostgreSQL needs the [postgres] extra: pip install 'veza[postgres]'")
    settings = {"search_path": search_path} if search_path else {}
    try:
        pool = await aio_as_trio(asyncpg.create_pool)(
            url,
            min_size=min_size,
            max_size=max_size,
            server_settings=settings,
            timeout=CONNECT_TIMEOUT_S,
            command_timeout=COMMAND_TIMEOUT_S,
            reset=_nothing_to_reset,
        )
    except (asyncpg.PostgresError, OSError, ValueError) as error:
        raise DatabaseError(f"cannot connect to PostgreSQL: {error}") from error
    database = PostgresDatabase(pool)
    try:
        yield database
    finally:
        await database.aclose()


def log_asyncio_errors(loop: Any) -> None:
    """Make `loop` (trio-asyncio's) log what asyncio code reports to its loop, as plain
    asyncio does. trio-asyncio's default raises each report into the loop's nursery, which
    would end every task under it, the whole server, for one notice: asyncpg reports this way
    that it rolled back a connection released inside a transaction (a request cancelled
    mid-transaction), which is what it should do."""
    loop.set_exception_handler(_log_asyncio_report)


def _log_asyncio_report(loop: Any, context: dict[str, Any]) -> None:
    error = context.get("exception")
    log.warning("asyncio: %s", context.get("message") or error, exc_info=error)
