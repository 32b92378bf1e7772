"""`veza import`: add audio files to the library; a running server's workers transcode them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import trio

from veza.app import build_services
from veza.cli.options import Commands, add_config_options
from veza.config import Settings
from veza.errors import VezaError
from veza.store import open_store
from veza.tracks import Tags


def add_parser(commands: Commands) -> None:
    add = commands.add_parser(
        "import",
        help="add audio files to the library; the running server transcodes them",
        description="Copy each FILE into the library and queue its transcode. A file that is "
        "not audio is refused with one line; the others are still imported (exit status 1).",
    )
    add_config_options(add)
    add.add_argument("files", type=Path, nargs="+", metavar="FILE")
    add.add_argument("--title", help="title (default: from the file's tags or name)")
    add.add_argument("--artist", default="", help="artist (default: from the file's tags)")
    add.add_argument("--album", default="", help="album (default: from the file's tags)")


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    missing = [str(path) for path in arguments.files if not path.is_file()]
    if missing:
        print(f"veza: not a file: {', '.join(missing)}", file=sys.stderr)
        return 2

    async def main() -> int:
        refused = 0
        async with open_store(settings) as store:
            tracks = build_services(settings, store, secret="").tracks
            for path in arguments.files:
                tags = Tags(arguments.title or "", arguments.artist, arguments.album)
                try:
                    track = await tracks.import_file(path, tags=tags)
                except VezaError as error:
                    print(f"veza: {path}: {error.message}", file=sys.stderr)
                    refused += 1
                    continue
                print(f"{track.id}  {track.title}  (queued for transcoding)")
        return 1 if refused else 0

    return trio.run(main)
