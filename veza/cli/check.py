"""`veza check`: validate the settings and the database, and print what was found."""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Callable

import trio

from veza.app import build_services
from veza.audio.ladder import ladder_spec
from veza.cli.options import Commands, add_config_options
from veza.config import Settings
from veza.store import database_runtime, open_database, open_store
from veza.store.migrations import applied_versions, latest_version
from veza.tracks.integrity import MediaReport
from veza.transcode import TranscodeOptions, find_ffmpeg, usable_ladder
from veza.transcode.options import bundled_ffmpeg

HELP = "validate the settings and the database, and print what was found"


def add_parser(commands: Commands) -> None:
    add = commands.add_parser("check", help=HELP, description=HELP.capitalize())
    add_config_options(add)
    add.add_argument(
        "--media",
        action="store_true",
        help="also compare the store with the files on disk: tracks whose renditions are "
        "missing, originals that cannot be read, folders of no track (exit status 1 if any)",
    )
    add.add_argument(
        "--repair",
        action="store_true",
        help="with --media: queue the missing renditions' transcodes (a running server does "
        "them) and remove the orphan folders",
    )


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
    if current > latest_version():
        state = f"newer than this Veza knows ({latest_version()}): it will not start on it"
    print(f"database: ok ({settings.database_backend}, schema version {current}, {state})")
    if arguments.media or arguments.repair:
        return _check_media(settings, repair=arguments.repair)
    return 0


def _check_media(settings: Settings, *, repair: bool) -> int:
    """The media check (veza/tracks/integrity.py), its findings one line each."""

    async def main() -> MediaReport:
        async with database_runtime(settings), open_store(settings) as store:
            services = build_services(settings, store, secret="")
            return await services.media_check.run(repair=repair)

    report = trio.run(main)
    for track_id in report.missing_renditions:
        print(f"track {track_id}: renditions missing")
    for track_id in report.unreadable_originals:
        print(f"track {track_id}: the original cannot be read")
    for name in report.orphan_folders:
        print(f"media/{name}: belongs to no track")
    found = (
        f"{len(report.missing_renditions)} with renditions missing, "
        f"{len(report.unreadable_originals)} with an unreadable original, "
        f"{len(report.orphan_folders)} orphan folder(s)"
    )
    print(f"media: {report.tracks} track(s) checked; {found}")
    if repair:
        print(
            f"repaired: {report.requeued} transcode(s) queued, {report.removed} folder(s) removed"
        )
        # What a repair cannot mend: an original that cannot be read.
        return 1 if report.unreadable_originals else 0
    return 0 if report.clean else 1


def _say_encoders(settings: Settings) -> None:
    """Which FFmpeg transcodes use (its version and the encoders Veza needs), or what is
    encoded without one."""
    ffmpeg = find_ffmpeg(settings.ffmpeg_path)
    if ffmpeg is not None:
        origin = "ffmpeg_path"
        if not settings.ffmpeg_path:
            origin = "imageio-ffmpeg" if ffmpeg == bundled_ffmpeg() else "on PATH"
        print(f"ffmpeg: {ffmpeg} ({origin}; ladder {ladder_spec(settings.ladder)})")
        print(f"ffmpeg version: {_ffmpeg_answer(ffmpeg, '-version', _version_line)}")
        print(f"ffmpeg encoders: {_ffmpeg_answer(ffmpeg, '-encoders', _encoders_line)}")
        return
    kept, _ = usable_ladder(settings.ladder, TranscodeOptions(ffmpeg=None))
    print(
        f"ffmpeg: not found; the ladder is encoded as {ladder_spec(kept)} with libsndfile's "
        "LAME, into master-mp3.m3u8 (no AAC without FFmpeg)"
    )


# The encoders Veza's ladders use (aac, libmp3lame) and others worth knowing about.
_ENCODERS = ("aac", "libmp3lame", "libopus", "flac")


def _version_line(text: str) -> str:
    first = text.splitlines()[0] if text.strip() else ""
    return first.removeprefix("ffmpeg version ").split(" Copyright")[0] or "unknown"


def _encoders_line(text: str) -> str:
    names = {line.split()[1] for line in text.splitlines() if len(line.split()) > 1}
    found = [name for name in _ENCODERS if name in names]
    missing = [name for name in _ENCODERS if name not in names]
    return " ".join(found) + (f" (missing: {' '.join(missing)})" if missing else "")


def _ffmpeg_answer(ffmpeg: str, option: str, read: Callable[[str], str]) -> str:
    try:
        done = subprocess.run(
            [ffmpeg, "-hide_banner", option],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"cannot run it ({error})"
    return read(done.stdout)
