"""A PostgreSQL transaction cancelled at any point (a client gone, a shutdown) costs that
transaction only: its connection is rolled back or closed, never pooled mid-transaction, and
nothing asyncpg reports about it reaches the loop's other tasks."""

from __future__ import annotations

import logging

import pytest
import trio

from tests.support import require_postgres
from tests.support.postgres import postgres_schema


async def test_transactions_cancelled_at_every_moment_leave_the_pool_clean(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = require_postgres()
    async with postgres_schema(url) as database:
        await database.execute("CREATE TABLE marks (n INTEGER NOT NULL)")
        # Deadlines from nothing to a few milliseconds: some land in BEGIN, some in the
        # statements, some in COMMIT.
        committed = 0
        for step in range(150):
            with trio.move_on_after(step * 0.00005):
                async with database.transaction() as tx:
                    await tx.execute("INSERT INTO marks (n) VALUES (?)", (step,))
                    await tx.execute("INSERT INTO marks (n) VALUES (?)", (step,))
                committed += 1
        rows = await database.fetch_all("SELECT n, COUNT(*) AS c FROM marks GROUP BY n")
        assert all(row["c"] == 2 for row in rows)  # whole transactions or nothing
        assert len(rows) >= committed
        async with database.transaction() as tx:  # the pool still serves
            await tx.execute("INSERT INTO marks (n) VALUES (?)", (-1,))
        await trio.sleep(0.2)  # what asyncpg reports on release has arrived by now
    reports = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert reports == []
