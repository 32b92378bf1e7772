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
        description="Run the transcode pipeline on FILE and write master.m3u8 and the "
        "renditions into OUT_DIR (try it with `ffplay OUT_DIR/master.m3u8`).",
    )
    transcode.add_argument("file", type=Path, metavar="FILE")
    transcode.add_argument("out_dir", type=Path, metavar="OUT_DIR")


def run(arguments: argparse.Namespace) -> int:
    return run_transcode_command(arguments.file, arguments.out_dir)
