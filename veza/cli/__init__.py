"""The `veza` command: serve, migrate, check, import, scan, transcode, user, backup, restore,
copy-db; one module each."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

import veza
from veza.cli import backup, check, copydb, imports, migrate, scan, serve, transcode, user
from veza.cli.options import settings_from
from veza.config import ConfigError, Settings
from veza.errors import DatabaseError
from veza.logs import configure_logging

Run = Callable[[Settings, argparse.Namespace], int]

# `serve` logs its data directory and `check` prints it; the other commands say it on stderr,
# keeping stdout for their results.
_SAYS_ITS_DATA_DIR = {"serve", "check"}

# The commands that read settings, by name; `transcode` needs none.
_COMMANDS: dict[str, Run] = {
    "serve": serve.run,
    "migrate": migrate.run,
    "check": check.run,
    "import": imports.run,
    "scan": scan.run,
    "user": user.run,
    "backup": backup.run_backup,
    "restore": backup.run_restore,
    "copy-db": copydb.run,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="veza", description=veza.__doc__)
    parser.add_argument("--version", action="version", version=f"veza {veza.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (serve, migrate, check, transcode, imports, scan, user, backup, copydb):
        module.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    if arguments.command == "transcode":
        configure_logging("text", "warning")
        return transcode.run(arguments)
    try:
        settings = settings_from(arguments)
    except ConfigError as error:
        print(f"veza: configuration error: {error}", file=sys.stderr)
        return 2
    # `serve` logs to stdout (systemd's journal takes it), journal lines unless on a terminal;
    # the other commands keep stdout for their results and log text.
    serving = arguments.command == "serve"
    log_format = "text" if settings.log_format == "auto" and not serving else settings.log_format
    configure_logging(log_format, settings.log_level, sys.stdout if serving else sys.stderr)
    if arguments.command not in _SAYS_ITS_DATA_DIR:
        print(f"veza: data in {settings.data_dir.resolve()}", file=sys.stderr)
    try:
        return _COMMANDS[arguments.command](settings, arguments)
    except DatabaseError as error:
        print(f"veza: database error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
