"""`veza serve`: run the server until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import gc
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


# CPython collects its youngest generation every 700 allocations of containers (net of frees);
# a WebSocket hub allocates a few per frame written (the ASGI message, Trio's cancel scopes),
# so at thousands of frames a second it collected hundreds of times a second, and each pass
# promoted whatever was in flight, which triggered full collections of the whole heap: a
# quarter of the server's CPU under `bench/chat.py`. Younger collections 30 times rarer, full
# ones rarer still; what a cycle holds waits a little longer to be freed.
GC_THRESHOLDS = (20_000, 20, 20)


class _FreezeOnceStarted:
    """What start-up built (modules, the app, schemas) lives as long as the process: once
    Veza serves, out of the collector's sight, so full collections scan only what came after."""

    def started(self, value: object = None) -> None:
        gc.freeze()


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    async def main() -> None:
        await run_veza(
            settings, trio.Event(), handle_signals=True, task_status=_FreezeOnceStarted()
        )

    gc.set_threshold(*GC_THRESHOLDS)

    failures: list[BaseException] = []
    try:
        trio.run(main)
    except* StartupFailed as failed:
        failures.extend(failed.exceptions)
    for failure in failures[:1]:
        print(f"veza: {failure}", file=sys.stderr)
    return 1 if failures else 0
