"""Upgrades: a data dir made by an older Veza (tests/fixtures/schema-v6.sql) is copied, then
migrated at start-up; a database migrated by a newer Veza is refused in one line."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import trio

from tests.support.accounts import PASSWORD
from tests.support.process import run_veza
from tests.support.server import make_settings, serving
from veza.store.migrations import latest_version
from veza.store.snapshot import sqlite_schema_version

FIXTURES = Path(__file__).parent.parent / "fixtures"


def old_data_dir(data: Path) -> Path:
    """A data dir whose database is at schema version 6, with one account."""
    data.mkdir(parents=True)
    with closing(sqlite3.connect(data / "veza.db")) as db:
        db.executescript((FIXTURES / "schema-v6.sql").read_text())
    return data


async def test_an_older_data_dir_is_copied_then_migrated_at_start_up(tmp_path: Path) -> None:
    data = old_data_dir(tmp_path / "data")
    settings = make_settings(data)
    kept = data / f"veza.db.before-v{latest_version()}.bak"
    async with serving(settings) as server:
        login = await server.client.post(
            "/api/v1/auth/login", json={"login": "olduser", "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        assert (await server.client.get("/status")).status_code == 200
    assert sqlite_schema_version(kept) == 6
    assert sqlite_schema_version(settings.sqlite_path) == latest_version()
    with closing(sqlite3.connect(kept)) as db:
        assert db.execute("SELECT username FROM users").fetchall() == [("olduser",)]
    # Up to date now: a second start copies nothing again.
    kept.unlink()
    async with serving(settings):
        pass
    assert not kept.exists()


@pytest.mark.slow
async def test_veza_migrate_copies_an_older_database_first(tmp_path: Path) -> None:
    data = old_data_dir(tmp_path / "data")
    done = await trio.to_thread.run_sync(run_veza, "migrate", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    kept = data / f"veza.db.before-v{latest_version()}.bak"
    assert sqlite_schema_version(kept) == 6
    assert sqlite_schema_version(data / "veza.db") == latest_version()


@pytest.mark.slow
async def test_a_newer_schema_is_refused_in_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert (
        await trio.to_thread.run_sync(run_veza, "migrate", "--data-dir", str(data))
    ).returncode == 0
    newer = latest_version() + 1
    with closing(sqlite3.connect(data / "veza.db")) as db:
        db.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'later', 0)",
            (newer,),
        )
        db.commit()
    served = await trio.to_thread.run_sync(
        run_veza, "serve", "--data-dir", str(data), "--port", "0"
    )
    assert served.returncode == 1
    assert served.stderr.strip().splitlines()[-1] == (
        f"veza: the database is at schema version {newer}, newer than this Veza knows "
        f"({latest_version()}): run the newer Veza that migrated it, or restore a backup "
        "taken before"
    )
    assert "Traceback" not in served.stderr
    check = await trio.to_thread.run_sync(run_veza, "check", "--data-dir", str(data))
    assert f"schema version {newer}, newer than this Veza knows" in check.stdout
    assert not list(data.glob("*.bak"))
