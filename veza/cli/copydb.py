"""`veza copy-db`: copy a whole instance's database between SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import trio

from veza.cli.options import Commands, add_config_options
from veza.config import Settings
from veza.store import database_runtime, open_database
from veza.store.copy import copy_database
from veza.transcode.command import progress_bar

HELP = "copy a whole instance's database between SQLite and PostgreSQL"


def add_parser(commands: Commands) -> None:
    add = commands.add_parser(
        "copy-db",
        help=HELP,
        description=HELP.capitalize() + ". FROM and TO are each a SQLite file (a path or "
        "sqlite:///PATH) or a postgresql:// URL. The target must be empty (a new file or an "
        "empty database); its schema is made by Veza's migrations, then every table is copied "
        "in batches and the row counts compared. Stop Veza first: rows written during the "
        "copy may be missed. Media files stay where they are (the data directory).",
    )
    add_config_options(add)
    add.add_argument("source", metavar="FROM")
    add.add_argument("target", metavar="TO")


def database_url(text: str) -> str:
    """A URL as the `database_url` setting takes it: a bare path is a SQLite file."""
    if text.startswith(("postgres://", "postgresql://", "sqlite:///")):
        return text
    return f"sqlite:///{Path(text).resolve()}"


def _draw(table: str, copied: int, total: int) -> None:
    fraction = copied / total if total else 1.0
    sys.stderr.write(f"{progress_bar(fraction)} {table} {copied}/{total}\x1b[K")
    if copied == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    source = dataclasses.replace(settings, database_url=database_url(arguments.source))
    target = dataclasses.replace(settings, database_url=database_url(arguments.target))
    if source.database_backend == "sqlite" and not source.sqlite_path.is_file():
        print(f"veza: no SQLite database at {source.sqlite_path}", file=sys.stderr)
        return 1
    progress = _draw if sys.stderr.isatty() else None

    async def main() -> dict[str, int]:
        # PostgreSQL's runtime (an asyncio loop inside Trio) around both ends, either may need it.
        runtime = source if source.database_backend == "postgresql" else target
        async with (
            database_runtime(runtime),
            open_database(source) as from_db,
            open_database(target) as to_db,
        ):
            return await copy_database(from_db, to_db, progress)

    counts = trio.run(main)
    for table, rows in counts.items():
        print(f"{table}: {rows} rows")
    print(f"copied {len(counts)} tables, {sum(counts.values())} rows; counts match")
    return 0
