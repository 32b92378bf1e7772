"""`veza check`: validate the settings and the database, and print what was found."""

from __future__ import annotations

import argparse

import trio

from veza.audio.ladder import ladder_spec
from veza.cli.options import Commands, add_config_options
from veza.config import Settings
from veza.store import open_database
from veza.store.migrations import applied_versions, latest_version
from veza.transcode import TranscodeOptions, find_ffmpeg, usable_ladder

HELP = "validate the settings and the database, and print what was found"


def add_parser(commands: Commands) -> None:
    add_config_options(commands.add_parser("check", help=HELP, description=HELP.capitalize()))


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    print(f"settings: ok (data dir {settings.data_dir.resolve()})")
    print(f"listen: http://{settings.host}:{settings.port}")
    _say_encoders(settings)
    if settings.database_backend == "sqlite" and not settings.sqlite_path.exists():
        # Looking must not create: an empty database here would hide a mistyped --data-dir.
        print(f"database: none yet at {settings.sqlite_path} (`veza serve` or `veza migrate`)")
        return 0

    async def main() -> list[int]:
        async with open_database(settings) as database:
            await database.ping()
            return await applied_versions(database)

    versions = trio.run(main)
    current = max(versions, default=0)
    state = (
        "up to date"
        if current == latest_version()
        else f"needs `veza migrate` (latest {latest_version()})"
    )
    print(f"database: ok ({settings.database_backend}, schema version {current}, {state})")
    return 0


def _say_encoders(settings: Settings) -> None:
    """Which FFmpeg transcodes use, or what is encoded without one."""
    ffmpeg = find_ffmpeg()
    if ffmpeg is not None:
        print(f"ffmpeg: {ffmpeg} (ladder {ladder_spec(settings.ladder)})")
        return
    kept, _ = usable_ladder(settings.ladder, TranscodeOptions(ffmpeg=None))
    print(
        f"ffmpeg: not found; the ladder is encoded as {ladder_spec(kept)} with libsndfile's "
        "LAME, into master-mp3.m3u8 (no AAC without FFmpeg)"
    )
