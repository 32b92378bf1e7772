"""Consistent copies of a live SQLite database through SQLite's online backup API (never a
file copy: with WAL, the main file alone misses every commit not yet checkpointed)."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

from veza.store.database import DatabaseError

# A writer holds the lock for one transaction at a time; wait that long for a chance to read.
_BUSY_TIMEOUT_S = 30.0


def sqlite_snapshot(source: Path, target: Path) -> None:
    """Copy the database at `source` into a new file `target` (blocking), as one read
    transaction: the copy is the database as of one commit, whatever other processes write
    meanwhile. Written beside `target` and renamed into place, so a crash leaves no half copy."""
    if not source.is_file():
        raise DatabaseError(f"no SQLite database at {source}")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with (
            closing(sqlite3.connect(source, timeout=_BUSY_TIMEOUT_S)) as src,
            closing(sqlite3.connect(partial)) as dst,
        ):
            # pages=-1 (the default): every page in one step, under one read lock.
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        os.replace(partial, target)
    except sqlite3.Error as error:
        partial.unlink(missing_ok=True)
        raise DatabaseError(f"cannot copy the SQLite database: {error}") from error


def sqlite_schema_version(path: Path) -> int:
    """The highest migration recorded in a SQLite file (0 when none is), read-only."""
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
        try:
            row = db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        except sqlite3.OperationalError:
            return 0  # no schema_migrations table: nothing was ever applied
    return int(row[0] or 0)
