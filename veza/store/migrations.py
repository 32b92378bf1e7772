"""Versioned schema migrations, recorded in `schema_migrations`, portable across backends."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from veza.store import accounts, chat, folders, jobs, playlists, stats, tracks, usage
from veza.store.database import Database, DatabaseError, Executor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]
    # Run after `statements` on one backend only, by dialect name: what portable DDL cannot say
    # (a collation, WITHOUT ROWID).
    dialect_statements: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


# Portable DDL: TEXT ids, INTEGER flags, DOUBLE PRECISION epoch seconds; both SQLite and
# PostgreSQL accept these spellings. Append new migrations; never edit an applied one.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "meta",
        (
            """CREATE TABLE meta (
                key TEXT PRIMARY KEY,
                value TEXT NOT NULL
            )""",
        ),
    ),
    Migration(2, "accounts", accounts.SCHEMA),
    Migration(3, "jobs", jobs.SCHEMA),
    Migration(4, "tracks", tracks.SCHEMA),
    Migration(5, "job priority", jobs.PRIORITY),
    Migration(6, "track generations", tracks.GENERATIONS),
    Migration(7, "chat", chat.SCHEMA),
    Migration(8, "catalogue", tracks.CATALOGUE, tracks.CATALOGUE_BY_DIALECT),
    Migration(
        9,
        "music folders, duplicates, quotas and listening stats",
        (*tracks.LIBRARY, *folders.SCHEMA, *usage.SCHEMA, *stats.SCHEMA),
    ),
    Migration(10, "playlists, collaborators and play queues", playlists.SCHEMA),
    Migration(11, "whether renditions are normalised", tracks.NORMALISED),
)


# Any fixed number: PostgreSQL advisory lock that serialises migrations across processes.
_MIGRATION_LOCK = 0x7E2A_0001


async def _serialise(tx: Executor, dialect: str) -> None:
    if dialect == "postgresql":
        await tx.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))


async def _ensure_table(db: Database) -> None:
    async with db.transaction() as tx:
        await _serialise(tx, db.dialect)
        await tx.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                version INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                applied_at DOUBLE PRECISION NOT NULL
            )"""
        )


async def applied_versions(db: Database) -> list[int]:
    await _ensure_table(db)
    rows = await db.fetch_all("SELECT version FROM schema_migrations ORDER BY version")
    return [int(row["version"]) for row in rows]


class SchemaTooNew(DatabaseError):
    """The database was migrated by a newer Veza than this one: starting would misread it."""


def refuse_newer(versions: list[int], migrations: tuple[Migration, ...] = MIGRATIONS) -> None:
    if versions and max(versions) > latest_version(migrations):
        raise SchemaTooNew(
            f"the database is at schema version {max(versions)}, newer than this Veza knows "
            f"({latest_version(migrations)}): run the newer Veza that migrated it, or restore "
            "a backup taken before"
        )


async def migrate(db: Database, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Apply every migration not yet recorded, each in its own transaction; return those applied.
    Raises SchemaTooNew, changing nothing, when the database knows a migration this Veza
    does not."""
    done = set(await applied_versions(db))
    refuse_newer(sorted(done), migrations)
    applied = []
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version in done:
            continue
        async with db.transaction() as tx:
            await _serialise(tx, db.dialect)
            # Re-check inside the transaction: another process may have migrated meanwhile.
            row = await tx.fetch_one(
                "SELECT version FROM schema_migrations WHERE version = ?", (migration.version,)
            )
            if row is not None:
                continue
            for statement in (
                *migration.statements,
                *migration.dialect_statements.get(db.dialect, ()),
            ):
                await tx.execute(statement)
            await tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, time.time()),
            )
        log.info("applied migration %d (%s)", migration.version, migration.name)
        applied.append(migration.version)
    return applied


def latest_version(migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
    return max(m.version for m in migrations)
