"""`veza copy-db`: a whole instance from SQLite to PostgreSQL and back, every table found in
the database itself, counts and contents compared."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.support import require_postgres, require_tool
from tests.support.accounts import bearer, register
from tests.support.postgres import postgres_schema
from tests.support.process import run_veza
from tests.support.server import make_settings, serving
from tests.support.tracks import wait_for_track, write_music
from veza.store.copy import BATCH_ROWS


def contents(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (SQLite's own aside), sorted."""
    with closing(sqlite3.connect(database)) as db:
        names = [
            row[0]
            for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            name: sorted(db.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr)
            for name in names
            if name != "schema_migrations"  # applied_at: when each end was migrated
        }


async def make_instance(tmp_path: Path) -> Path:
    """A SQLite instance with accounts, a conversation, a transcoded track, its job, and a
    table of more rows than one batch."""
    settings = make_settings(tmp_path / "source", argon2_memory_kib=1024, argon2_time_cost=1)
    async with serving(settings) as server:
        alice = await register(server.client, "alice")
        bob = await register(server.client, "bob")
        talk = await server.client.post(
            "/api/v1/conversations",
            json={"kind": "direct", "member_ids": [bob["user"]["id"]]},
            headers=bearer(alice["access_token"]),
        )
        assert talk.status_code in (200, 201), talk.text
        said = await server.client.post(
            f"/api/v1/conversations/{talk.json()['id']}/messages",
            json={"body": "héllo", "client_id": "c1"},
            headers=bearer(alice["access_token"]),
        )
        assert said.status_code in (200, 201), said.text
        track = await server.services.tracks.import_file(write_music(tmp_path / "t.wav", 2))
        await wait_for_track(server, track.id)
        for i in range(BATCH_ROWS * 2 + 7):
            await server.store.database.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)", (f"test-{i}", "é" * (i % 5))
            )
    return settings.sqlite_path


@pytest.mark.slow
async def test_sqlite_to_postgresql_and_back_keeps_every_row(tmp_path: Path) -> None:
    require_tool("ffmpeg")
    url = require_postgres()
    source = await make_instance(tmp_path)
    back = tmp_path / "back.db"
    async with postgres_schema(url) as database:
        schema = (await database.fetch_one("SELECT current_schema() AS s"))["s"]  # type: ignore[index]
        target = f"{url}?search_path={schema}"
        there = await trio.to_thread.run_sync(run_veza, "copy-db", str(source), target)
        assert there.returncode == 0, there.stderr
        assert there.stdout.strip().endswith("counts match")
        counts = dict(
            line.removesuffix(" rows").split(": ")
            for line in there.stdout.splitlines()
            if line.endswith(" rows")
        )
        assert int(counts["meta"]) >= BATCH_ROWS * 2 + 7
        assert int(counts["users"]) == 2 and int(counts["tracks"]) == 1
        assert sum(int(n) for name, n in counts.items() if "message" in name) >= 1
        for table, rows in counts.items():
            row = await database.fetch_one(f'SELECT COUNT(*) AS n FROM "{table}"')
            assert row is not None and row["n"] == int(rows), table

        again = await trio.to_thread.run_sync(run_veza, "copy-db", str(source), target)
        assert again.returncode == 1
        assert "the target is not empty" in again.stderr

        home = await trio.to_thread.run_sync(run_veza, "copy-db", target, str(back))
        assert home.returncode == 0, home.stderr
    original, returned = contents(source), contents(back)
    assert set(original) == set(returned)
    for table in original:
        assert returned[table] == original[table], table


@pytest.mark.slow
async def test_copy_db_refuses_a_source_that_is_missing_or_behind(tmp_path: Path) -> None:
    missing = await trio.to_thread.run_sync(
        run_veza, "copy-db", str(tmp_path / "none.db"), str(tmp_path / "to.db")
    )
    assert missing.returncode == 1 and "no SQLite database at" in missing.stderr
    old = tmp_path / "old.db"
    with closing(sqlite3.connect(old)) as db:
        db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO schema_migrations VALUES (1, 'meta')")
        db.commit()
    behind = await trio.to_thread.run_sync(run_veza, "copy-db", str(old), str(tmp_path / "to.db"))
    assert behind.returncode == 1
    assert "run `veza migrate` on the source first" in behind.stderr
