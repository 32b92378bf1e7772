"""`veza import`: copy audio files (and folders of them) into the library; a running server's
workers transcode them."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from contextlib import AbstractAsyncContextManager, nullcontext
from pathlib import Path

import trio

from veza.accounts import UserRow
from veza.accounts.policy import username_key
from veza.app import build_services
from veza.cli.options import Commands, add_config_options
from veza.config import Settings
from veza.errors import VezaError
from veza.store import Store, database_runtime, open_store
from veza.tracks import Tags, folders
from veza.transcode.command import progress_bar


def add_parser(commands: Commands) -> None:
    add = commands.add_parser(
        "import",
        help="add audio files and folders to the library; the running server transcodes them",
        description="Copy each FILE, and the audio files under each DIR (recursively; hidden "
        "files, links leading out of it and files that are not audio are passed over), into "
        "the library and queue their transcodes. A file its owner already has (the same "
        "bytes) is skipped; one that is not audio, or that would pass the owner's quota, is "
        "refused with one line; the others are still imported (exit status 1). A summary "
        "ends the run; the progress bar is drawn only on a terminal.",
    )
    add_config_options(add)
    add.add_argument("files", type=Path, nargs="+", metavar="FILE|DIR")
    add.add_argument(
        "--owner",
        metavar="USER",
        help="username of the owner (default: the first admin; the library when there is none)",
    )
    add.add_argument("--title", help="title (default: from the file's tags or name)")
    add.add_argument("--artist", default="", help="artist (default: from the file's tags)")
    add.add_argument("--album", default="", help="album (default: from the file's tags)")


def _files(paths: list[Path]) -> tuple[list[Path], Counter[str]]:
    """The files to import, in order: those named, then each folder's (blocking)."""
    found: list[Path] = []
    skipped: Counter[str] = Counter()
    for path in paths:
        if path.is_dir():
            walked = folders.walk([path])
            found += [file.path for file in walked.files]
            skipped.update(walked.skipped)
        else:
            found.append(path)
    return found, skipped


async def _owner(store: Store, name: str | None) -> UserRow | str | None:
    """The owner's row; None for the library (no admin yet); a message when USER is unknown."""
    if name is None:
        return await store.accounts.first_admin()
    user = await store.accounts.user_by_username_key(username_key(name))
    return f"no user named {name!r}" if user is None else user


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    missing = [str(p) for p in arguments.files if not p.is_file() and not p.is_dir()]
    if missing:
        print(f"veza: not a file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    bar = sys.stderr.isatty()

    async def main() -> int:
        async with database_runtime(settings), open_store(settings) as store:
            owner = await _owner(store, arguments.owner)
            if isinstance(owner, str):
                print(f"veza: {owner}", file=sys.stderr)
                return 2
            services = build_services(settings, store, secret="")
            tracks, quotas = services.tracks, services.quotas
            if owner is None:
                print(
                    "no admin account yet: the tracks belong to the library (no owner)",
                    file=sys.stderr,
                )
            paths, passed_over = await trio.to_thread.run_sync(_files, list(arguments.files))
            counts: Counter[str] = Counter()
            for done, path in enumerate(paths, start=1):
                if bar:
                    sys.stderr.write(progress_bar(done / max(1, len(paths))))
                    sys.stderr.flush()
                tags = Tags(arguments.title or "", arguments.artist, arguments.album)
                try:
                    digest = await trio.to_thread.run_sync(folders.content_hash, path)
                    admission: AbstractAsyncContextManager[None] = nullcontext()
                    if owner is not None:
                        existing = await tracks.owned_copy(owner.id, digest)
                        if existing is not None:
                            _line(bar, f"{path}: skipped: already in the library as {existing.id}")
                            counts["skipped"] += 1
                            continue
                        size = (await trio.Path(path).stat()).st_size
                        admission = quotas.admitting(owner, size)
                    async with admission:
                        track = await tracks.import_file(
                            path,
                            owner_id=None if owner is None else owner.id,
                            tags=tags,
                            content_hash=digest,
                        )
                except (VezaError, OSError) as error:
                    message = error.message if isinstance(error, VezaError) else error.strerror
                    _line(bar, f"veza: {path}: {message}", err=True)
                    counts["failed"] += 1
                    continue
                _line(bar, f"{track.id}  {track.title}  (queued for transcoding)")
                counts["imported"] += 1
            if bar:
                sys.stderr.write("\n")
        over = sum(passed_over.values())
        print(
            f"imported {counts['imported']}, skipped {counts['skipped']} (already in the "
            f"library), failed {counts['failed']}"
            + (
                f"; {over} file(s) in the folders passed over (hidden, links out, not audio)"
                if over
                else ""
            )
        )
        return 1 if counts["failed"] else 0

    return trio.run(main)


def _line(bar: bool, text: str, *, err: bool = False) -> None:
    """One line of the report, under the bar when there is one."""
    if bar:
        sys.stderr.write("\r\033[K")
    print(text, file=sys.stderr if err else sys.stdout)
