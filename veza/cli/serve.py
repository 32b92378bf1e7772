"""`veza serve`: run the server until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import sys

import trio

from veza.cli.options import Commands, add_config_options
from veza.config import Settings
from veza.serve import StartupFailed, run_veza


def add_parser(commands: Commands) -> None:
    serve = commands.add_parser("serve", help="run the server", description="Run the server.")
    add_config_options(serve)
    serve.add_argument("--host", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", help="port to listen on (default: 8080)")


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    async def main() -> None:
        await run_veza(settings, trio.Event(), handle_signals=True)

    failures: list[BaseException] = []
    try:
        trio.run(main)
    except* StartupFailed as failed:
        failures.extend(failed.exceptions)
    for failure in failures[:1]:
        print(f"veza: {failure}", file=sys.stderr)
    return 1 if failures else 0
