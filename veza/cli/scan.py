"""`veza scan`: scan the music folders now, in this process; a running server transcodes what
is new."""

from __future__ import annotations

import argparse
import os
import socket
import sys

import trio

from veza.app import build_services
from veza.cli.options import Commands, add_config_options
from veza.config import Settings
from veza.nursery.jobs import Workers
from veza.store import database_runtime, open_store
from veza.store.jobs import DONE, FAILED
from veza.transcode.command import progress_bar

HELP = "scan the music folders now; the running server transcodes what is new"
# How often the scan's record is read while it runs (in this process or in a server).
FOLLOW_S = 0.25


def add_parser(commands: Commands) -> None:
    add = commands.add_parser(
        "scan",
        help=HELP,
        description="Walk the music folders (music_folders) as the server does every "
        "scan_interval_seconds: add new audio files, take in changed ones, remove the tracks "
        "whose file is gone. The files are only read. When a scan is already running (in a "
        "server), follow that one. The progress bar is drawn only on a terminal.",
    )
    add_config_options(add)


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    if not settings.music_folders:
        print("veza: no music folder is configured (music_folders)", file=sys.stderr)
        return 2
    bar = sys.stderr.isatty()

    async def main() -> int:
        async with database_runtime(settings), open_store(settings) as store:
            services = build_services(settings, store, secret="")
            job = await services.scans.request()
            assert job is not None
            # Only scans are claimed here: transcodes are the server's.
            workers = Workers(
                store,
                [services.scans.kind()],
                count=1,
                instance=f"{socket.gethostname()}:{os.getpid()}:scan",
                recover_all_running=False,
                only_own_kinds=True,
                poll_s=FOLLOW_S,
            )
            async with trio.open_nursery() as nursery:
                await nursery.start(workers.run)
                while (found := await store.jobs.get(job.id)) is not None and found.status not in (
                    DONE,
                    FAILED,
                ):
                    if bar:
                        sys.stderr.write(progress_bar(found.progress))
                        sys.stderr.flush()
                    await trio.sleep(FOLLOW_S)
                nursery.cancel_scope.cancel()
            if bar:
                sys.stderr.write("\n")
            if found is None or found.status == FAILED:
                reason = "it was removed" if found is None else found.error
                print(f"veza: the scan failed: {reason}", file=sys.stderr)
                return 1
            last = await store.folders.last_scan() or {}
        why = ", ".join(f"{n} {reason}" for reason, n in last.get("skipped_why", {}).items())
        print(
            f"scanned {last.get('folders', 0)} folder(s): added {last.get('added', 0)}, "
            f"updated {last.get('updated', 0)}, removed {last.get('removed', 0)}, "
            f"unchanged {last.get('unchanged', 0)}, skipped {last.get('skipped', 0)}"
            + (f" ({why})" if why else "")
        )
        if last.get("unreadable_folders"):
            print(
                f"veza: {last['unreadable_folders']} music folder(s) cannot be read",
                file=sys.stderr,
            )
        return 0

    return trio.run(main)
