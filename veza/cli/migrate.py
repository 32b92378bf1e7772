"""`veza migrate`: bring the database schema up to date (start-up does it too)."""

from __future__ import annotations

import argparse

import trio

from veza.cli.options import Commands, add_config_options
from veza.config import Settings
from veza.store import keep_before_migrating, open_database
from veza.store.migrations import latest_version, migrate

HELP = "bring the database schema up to date"


def add_parser(commands: Commands) -> None:
    add_config_options(commands.add_parser("migrate", help=HELP, description=HELP.capitalize()))


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    async def main() -> list[int]:
        async with open_database(settings) as database:
            await keep_before_migrating(settings, database)  # as start-up does
            return await migrate(database)

    applied = trio.run(main)
    print(f"applied {len(applied)} migration(s); schema at version {latest_version()}")
    return 0
