"""SQLite specifics: WAL, foreign keys, and a file that survives the process."""

from __future__ import annotations

from pathlib import Path

from veza.store.sqlite import open_sqlite


async def test_wal_and_foreign_keys_are_on(tmp_path: Path) -> None:
    async with open_sqlite(tmp_path / "db.sqlite", readers=1) as database:
        assert await database.fetch_one("PRAGMA journal_mode") == {"journal_mode": "wal"}
        async with database.transaction() as tx:
            assert await tx.fetch_one("PRAGMA foreign_keys") == {"foreign_keys": 1}


async def test_committed_data_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "db.sqlite"
    async with open_sqlite(path, readers=1) as database:
        await database.execute("CREATE TABLE t (v TEXT)")
        await database.execute("INSERT INTO t (v) VALUES (?)", ("kept",))
    async with open_sqlite(path, readers=1) as database:
        assert await database.fetch_all("SELECT v FROM t") == [{"v": "kept"}]
