"""`veza transcode`: the audio pipeline alone, from a file to an HLS folder (no server)."""

from __future__ import annotations

import argparse
from pathlib import Path

from veza.cli.options import Commands
from veza.transcode import run_transcode_command


def add_parser(commands: Commands) -> None:
    transcode = commands.add_parser(
        "transcode",
        help="turn an audio file into an HLS ladder in a folder (no server needed)",
        description="Run the transcode pipeline on FILE and write the renditions and their "
        "master playlists (master.m3u8 for AAC, master-mp3.m3u8 for MP3) into OUT_DIR, which "
        "must be empty or new (try it with `ffplay OUT_DIR/master.m3u8`). The progress bar is "
        "drawn only on a terminal.",
    )
    transcode.add_argument("file", type=Path, metavar="FILE")
    transcode.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    transcode.add_argument(
        "--force",
        action="store_true",
        help="remove what OUT_DIR holds first, instead of refusing a folder that is not empty",
    )


def run(arguments: argparse.Namespace) -> int:
    return run_transcode_command(arguments.file, arguments.out_dir, force=arguments.force)
