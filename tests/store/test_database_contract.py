"""The Database contract every backend must keep: atomic transactions, constraint errors,
migrations applied once."""

from __future__ import annotations

import pytest
import trio

from veza.store.database import Database, DatabaseError, IntegrityError
from veza.store.migrations import MIGRATIONS, Migration, applied_versions, migrate


async def _make_table(database: Database) -> None:
    await database.execute("CREATE TABLE items (id TEXT PRIMARY KEY, n INTEGER NOT NULL)")


async def test_a_transaction_commits_all_or_nothing(database: Database) -> None:
    await _make_table(database)
    async with database.transaction() as tx:
        await tx.execute("INSERT INTO items (id, n) VALUES (?, ?)", ("a", 1))
        await tx.execute("INSERT INTO items (id, n) VALUES (?, ?)", ("b", 2))
    with pytest.raises(RuntimeError):
        async with database.transaction() as tx:
            await tx.execute("INSERT INTO items (id, n) VALUES (?, ?)", ("c", 3))
            raise RuntimeError("abandon")
    rows = await database.fetch_all("SELECT id, n FROM items ORDER BY id")
    assert rows == [{"id": "a", "n": 1}, {"id": "b", "n": 2}]


async def test_a_cancelled_transaction_rolls_back_and_frees_the_writer(database: Database) -> None:
    await _make_table(database)
    with trio.CancelScope() as cancelled:
        async with database.transaction() as tx:
            await tx.execute("INSERT INTO items (id, n) VALUES (?, ?)", ("x", 1))
            cancelled.cancel()
            await trio.sleep_forever()
    assert cancelled.cancelled_caught
    with trio.fail_after(5):
        await database.execute("INSERT INTO items (id, n) VALUES (?, ?)", ("y", 2))
    assert await database.fetch_all("SELECT id FROM items") == [{"id": "y"}]


async def test_constraint_violations_raise_integrity_error(database: Database) -> None:
    await _make_table(database)
    await database.execute("INSERT INTO items (id, n) VALUES (?, ?)", ("a", 1))
    with pytest.raises(IntegrityError):
        await database.execute("INSERT INTO items (id, n) VALUES (?, ?)", ("a", 2))
    assert await database.fetch_one("SELECT n FROM items WHERE id = ?", ("a",)) == {"n": 1}


async def test_readers_see_committed_data_while_a_write_is_open(database: Database) -> None:
    await _make_table(database)
    await database.execute("INSERT INTO items (id, n) VALUES (?, ?)", ("a", 1))
    async with database.transaction() as tx:
        await tx.execute("UPDATE items SET n = 2 WHERE id = ?", ("a",))
        with trio.fail_after(5):
            outside = await database.fetch_one("SELECT n FROM items WHERE id = ?", ("a",))
        inside = await tx.fetch_one("SELECT n FROM items WHERE id = ?", ("a",))
    assert outside == {"n": 1}
    assert inside == {"n": 2}


async def test_execute_reports_changed_rows(database: Database) -> None:
    await _make_table(database)
    for key in "abc":
        await database.execute("INSERT INTO items (id, n) VALUES (?, ?)", (key, 0))
    assert await database.execute("UPDATE items SET n = 1 WHERE id <> ?", ("a",)) == 2


async def test_migrations_apply_once_in_order_and_are_recorded(database: Database) -> None:
    extra = Migration(10_000, "test_extra", ("CREATE TABLE extra (id TEXT PRIMARY KEY)",))
    applied = await migrate(database, (*MIGRATIONS, extra))
    assert applied == sorted(applied) and applied[-1] == 10_000
    assert await migrate(database, (*MIGRATIONS, extra)) == []
    assert await applied_versions(database) == applied


async def test_a_failing_migration_leaves_nothing_half_applied(database: Database) -> None:
    broken = Migration(10_001, "broken", ("CREATE TABLE half (id TEXT)", "THIS IS NOT SQL"))
    with pytest.raises(DatabaseError, match="syntax"):
        await migrate(database, (*MIGRATIONS, broken))
    assert 10_001 not in await applied_versions(database)
    with pytest.raises(DatabaseError, match="half"):
        await database.fetch_all("SELECT * FROM half")


async def test_concurrent_migrations_apply_each_version_once(database: Database) -> None:
    results: list[list[int]] = []

    async def run() -> None:
        results.append(await migrate(database))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        nursery.start_soon(run)
    # Which caller applies which version depends on who gets the lock; none is applied twice.
    applied = sorted(version for result in results for version in result)
    assert applied == sorted(m.version for m in MIGRATIONS)
