"""The database contract every backend implements: portable SQL with `?` placeholders."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from veza.errors import DatabaseError, IntegrityError

__all__ = ["Database", "DatabaseError", "Executor", "IntegrityError", "Params", "Row"]

Row = dict[str, Any]
Params = Sequence[Any]


class Executor(Protocol):
    """Something that runs statements: a transaction, or the database in autocommit."""

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return the number of rows it changed."""
        ...

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None: ...


class Database(Executor, Protocol):
    """A backend. `execute` outside a transaction commits on its own; reads may use a replica
    connection, so read-your-writes inside one unit of work needs `transaction()`."""

    dialect: str

    def transaction(self) -> AbstractAsyncContextManager[Executor]:
        """All statements inside commit together, or none do (on any exception)."""
        ...

    async def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        ...
