"""Copying a whole instance's database to another backend (`veza copy-db`): the tables are
found in the source itself, so a table a later migration adds is copied without a word here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from veza.store.database import Database, DatabaseError, Row
from veza.store.migrations import MIGRATIONS, applied_versions, latest_version, migrate

BATCH_ROWS = 500
# Filled by `migrate` on the target; compared, not copied.
_MIGRATIONS_TABLE = "schema_migrations"

Progress = Callable[[str, int, int], None]  # table, rows copied so far, rows in the table


class CopyRefused(DatabaseError):
    """The copy cannot start (a target holding data, a source behind on migrations)."""


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]  # the primary key, or every column when there is none
    parents: frozenset[str]  # tables its foreign keys point at


async def tables(db: Database) -> list[Table]:
    """Every table of the database, parents before the tables that refer to them."""
    if db.dialect == "postgresql":
        found = await _postgres_tables(db)
    else:
        found = await _sqlite_tables(db)
    return _parents_first(found)


async def _sqlite_tables(db: Database) -> list[Table]:
    rows = await db.fetch_all(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    found = []
    for row in rows:
        name = row["name"]
        info = await db.fetch_all(f'PRAGMA table_info("{name}")')
        keys = await db.fetch_all(f'PRAGMA foreign_key_list("{name}")')
        columns = tuple(c["name"] for c in info)
        key = tuple(c["name"] for c in sorted(info, key=lambda c: c["pk"]) if c["pk"])
        found.append(Table(name, columns, key or columns, frozenset(k["table"] for k in keys)))
    return found


async def _postgres_tables(db: Database) -> list[Table]:
    rows = await db.fetch_all(
        """SELECT c.relname AS name, a.attname AS column_name, a.attnum AS position,
                  COALESCE(a.attnum = ANY(k.conkey), FALSE) AS in_key
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           LEFT JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'p'
           WHERE c.relkind = 'r' AND n.nspname = current_schema()
           ORDER BY c.relname, a.attnum"""
    )
    links = await db.fetch_all(
        """SELECT c.relname AS name, p.relname AS parent
           FROM pg_constraint k
           JOIN pg_class c ON c.oid = k.conrelid
           JOIN pg_class p ON p.oid = k.confrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE k.contype = 'f' AND n.nspname = current_schema()"""
    )
    columns: dict[str, list[str]] = {}
    keys: dict[str, list[str]] = {}
    for row in rows:
        columns.setdefault(row["name"], []).append(row["column_name"])
        if row["in_key"]:
            keys.setdefault(row["name"], []).append(row["column_name"])
    parents: dict[str, set[str]] = {}
    for link in links:
        parents.setdefault(link["name"], set()).add(link["parent"])
    return [
        Table(
            name,
            tuple(cols),
            tuple(keys.get(name) or cols),
            frozenset(parents.get(name, set())),
        )
        for name, cols in columns.items()
    ]


def _parents_first(found: list[Table]) -> list[Table]:
    by_name = {t.name: t for t in found}
    ordered: list[Table] = []
    placed: set[str] = set()

    def place(table: Table, path: frozenset[str]) -> None:
        if table.name in placed or table.name in path:  # a cycle (or a self-reference): as is
            return
        for parent in sorted(table.parents):
            if parent in by_name:
                place(by_name[parent], path | {table.name})
        placed.add(table.name)
        ordered.append(table)

    for table in sorted(found, key=lambda t: t.name):
        place(table, frozenset())
    return ordered


async def row_count(db: Database, table: str) -> int:
    row = await db.fetch_one(f'SELECT COUNT(*) AS n FROM "{table}"')
    return int(row["n"]) if row else 0


async def rows_of(db: Database, table: Table, offset: int, limit: int) -> list[Row]:
    """One batch of a table's rows, in primary-key order."""
    columns = ", ".join(f'"{c}"' for c in table.columns)
    order = ", ".join(f'"{c}"' for c in table.key)
    return await db.fetch_all(
        f'SELECT {columns} FROM "{table.name}" ORDER BY {order} LIMIT ? OFFSET ?',
        (limit, offset),
    )


async def copy_database(
    source: Database, target: Database, progress: Progress | None = None
) -> dict[str, int]:
    """Copy every row of `source` into the empty `target`, whose schema is made by the same
    migrations; return the row count of each table, checked equal on both sides. Raises
    CopyRefused before writing anything when the target holds data or the source is not at
    the latest schema version. Run it with the instance stopped: rows written meanwhile may
    be missed."""
    source_versions = await applied_versions(source)
    if set(source_versions) != {m.version for m in MIGRATIONS}:
        raise CopyRefused(
            f"the source is at schema version {max(source_versions, default=0)} "
            f"({len(source_versions)} migrations), this Veza at {latest_version()} "
            f"({len(MIGRATIONS)}): run `veza migrate` on the source first"
        )
    for table in await tables(target):
        if table.name != _MIGRATIONS_TABLE and await row_count(target, table.name):
            raise CopyRefused(f"the target is not empty (table {table.name} has rows)")
    await migrate(target)
    counts: dict[str, int] = {}
    target_names = {t.name for t in await tables(target)}
    for table in await tables(source):
        if table.name == _MIGRATIONS_TABLE:
            continue
        if table.name not in target_names:
            raise CopyRefused(f"the target has no table {table.name}")
        counts[table.name] = await _copy_table(source, target, table, progress)
    await _advance_sequences(target)
    for name, expected in counts.items():
        copied = await row_count(target, name)
        if copied != expected:
            raise DatabaseError(f"table {name}: {expected} rows in the source, {copied} copied")
    return counts


async def _copy_table(
    source: Database, target: Database, table: Table, progress: Progress | None
) -> int:
    total = await row_count(source, table.name)
    columns = ", ".join(f'"{c}"' for c in table.columns)
    marks = ", ".join("?" for _ in table.columns)
    insert = f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})'
    copied = 0
    if progress is not None:
        progress(table.name, 0, total)
    while True:
        batch = await rows_of(source, table, copied, BATCH_ROWS)
        if not batch:
            break
        async with target.transaction() as tx:
            for row in batch:
                await tx.execute(insert, tuple(row[c] for c in table.columns))
        copied += len(batch)
        if progress is not None:
            progress(table.name, copied, total)
    return copied


async def _advance_sequences(db: Database) -> None:
    """PostgreSQL: a column filled from a sequence continues after the copied values."""
    if db.dialect != "postgresql":
        return  # SQLite's rowids and AUTOINCREMENT counters follow the rows themselves
    owned = await db.fetch_all(
        """SELECT c.relname AS name, a.attname AS column_name,
                  pg_get_serial_sequence(quote_ident(c.relname), a.attname) AS sequence
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           WHERE c.relkind = 'r' AND n.nspname = current_schema()"""
    )
    for row in owned:
        if row["sequence"]:
            column, table = row["column_name"], row["name"]
            await db.fetch_one(
                f"""SELECT setval(CAST(? AS TEXT)::regclass,
                                  COALESCE((SELECT MAX("{column}") FROM "{table}"), 0) + 1,
                                  false)""",
                (row["sequence"],),
            )
