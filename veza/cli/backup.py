"""`veza backup` and `veza restore`: a consistent copy of an instance, and an instance made
from one (docs/deployment.md, "Backups").

A backup folder holds `veza.db` (SQLite, copied through the online backup API), `secret.key`,
`veza.toml` (the settings file, when one is used), `media/` (originals and covers; renditions
are rebuilt after a restore; music folders are the owner's files and are not copied) and
`manifest.json`, written last, with the SHA-256 of every other file."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import trio

import veza
from veza.app import build_services
from veza.cli.options import Commands, add_config_options
from veza.config import Settings, ensure_secret
from veza.files import copy_atomically, make_dirs, write_atomically
from veza.store import database_runtime, open_store
from veza.store.snapshot import sqlite_schema_version, sqlite_snapshot

MANIFEST = "manifest.json"
DATABASE = "veza.db"
SECRET = "secret.key"
CONFIG = "veza.toml"
MEDIA = "media"
FORMAT = 1
# Under each track's media folder: rebuilt from the original after a restore, so not copied.
_REBUILT = {"hls"}


def add_parser(commands: Commands) -> None:
    backup = commands.add_parser(
        "backup",
        help="write a consistent copy of this instance (it may be running) into DEST",
        description="Write a consistent copy of the instance into the new or empty folder "
        "DEST, while it runs: the SQLite database (through SQLite's online backup API), the "
        "secret, the settings file and the media (originals and covers; renditions are "
        "rebuilt after a restore; music folders are not copied), with manifest.json listing "
        "each file's SHA-256. With PostgreSQL, the database is left to pg_dump "
        "(docs/deployment.md).",
    )
    add_config_options(backup)
    backup.add_argument("dest", type=Path, metavar="DEST")
    backup.add_argument(
        "--no-media", action="store_true", help="leave the media out (database, secret, settings)"
    )
    restore = commands.add_parser(
        "restore",
        help="make this data directory (empty) into the instance backed up in SRC",
        description="Check SRC's manifest, copy the backup into the empty data directory, "
        "bring the schema up to date and queue the transcodes of every track whose "
        "renditions are absent (a running server makes them). With PostgreSQL, restore the "
        "database with pg_restore first (docs/deployment.md).",
    )
    add_config_options(restore)
    restore.add_argument("source", type=Path, metavar="SRC")


class BackupError(Exception):
    """A one-line reason the backup or restore cannot go on."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _media_files(media_dir: Path) -> Iterator[Path]:
    """What a backup copies of the media directory, relative to it: everything but renditions
    (and symbolic links, which would point out of it)."""
    if not media_dir.is_dir():
        return
    for folder, dirs, files in os.walk(media_dir):
        here = Path(folder)
        depth = len(here.relative_to(media_dir).parts)
        dirs[:] = sorted(d for d in dirs if not (depth == 1 and d in _REBUILT))
        for name in sorted(files):
            path = here / name
            if not path.is_symlink() and not name.endswith(".tmp"):
                yield path.relative_to(media_dir)


def _empty_folder(path: Path, what: str) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BackupError(f"{what} {path} is not empty")


def _config_file(arguments: argparse.Namespace) -> Path | None:
    if arguments.config is not None:
        return Path(arguments.config)
    configured = os.environ.get("VEZA_CONFIG")
    return Path(configured) if configured else None


def backup(settings: Settings, dest: Path, *, media: bool, config: Path | None) -> list[str]:
    """Write the backup (blocking); return the notes for the operator."""
    _empty_folder(dest, "the backup folder")
    make_dirs(dest)
    notes: list[str] = []
    files: dict[str, str] = {}

    def taken(name: str) -> None:
        files[name] = sha256_of(dest / name)

    schema_version = None
    if settings.database_backend == "sqlite":
        # First: the media copied next holds at least what this database refers to.
        sqlite_snapshot(settings.sqlite_path, dest / DATABASE)
        schema_version = sqlite_schema_version(dest / DATABASE)
        taken(DATABASE)
    else:
        notes.append(
            "the PostgreSQL database is not in this backup: take it with pg_dump "
            "(docs/deployment.md, Backups)"
        )
    secret = settings.data_dir / SECRET
    if secret.is_file():
        shutil.copyfile(secret, dest / SECRET)
        os.chmod(dest / SECRET, 0o600)
        taken(SECRET)
    elif settings.secret_key:
        notes.append("the secret is the secret_key setting (in the settings file or environment)")
    if config is not None:
        shutil.copyfile(config, dest / CONFIG)
        os.chmod(dest / CONFIG, 0o600)  # it may hold the SMTP password or the secret
        taken(CONFIG)
    if media:
        for relative in _media_files(settings.media_dir):
            target = dest / MEDIA / relative
            make_dirs(target.parent)
            try:
                copy_atomically(settings.media_dir / relative, target)
            except FileNotFoundError:
                continue  # removed since it was listed: its track was deleted meanwhile
            taken(f"{MEDIA}/{relative.as_posix()}")
    manifest = {
        "format": FORMAT,
        "veza_version": veza.__version__,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "database": settings.database_backend,
        "schema_version": schema_version,
        "media": media,
        "files": files,
    }
    write_atomically(dest / MANIFEST, (json.dumps(manifest, indent=1) + "\n").encode())
    return notes


def read_manifest(source: Path) -> dict[str, object]:
    """The manifest of a backup, every file it lists checked against its SHA-256."""
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as error:
        raise BackupError(f"{source} holds no readable {MANIFEST} ({error})") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source}: backup format {manifest.get('format')!r} is not known")
    files = manifest["files"]
    for name, digest in files.items():
        path = source / name
        if ".." in Path(name).parts or Path(name).is_absolute():
            raise BackupError(f"{MANIFEST} names a file outside the backup: {name}")
        if not path.is_file():
            raise BackupError(f"{name} is missing from the backup")
        if sha256_of(path) != digest:
            raise BackupError(f"{name} does not match its checksum: the backup is damaged")
    return dict(manifest)


def restore(settings: Settings, source: Path) -> list[str]:
    """Copy a checked backup into the empty data directory (blocking); return the notes."""
    manifest = read_manifest(source)
    files = manifest["files"]
    assert isinstance(files, dict)
    _empty_folder(settings.data_dir, "the data directory")
    if settings.database_backend == "sqlite" and settings.sqlite_path.exists():
        raise BackupError(f"a database already exists at {settings.sqlite_path}")
    notes: list[str] = []
    make_dirs(settings.data_dir)
    for name in files:
        if name == DATABASE:
            if settings.database_backend != "sqlite":
                notes.append("the backup's SQLite database was not restored: this instance "
                             "uses PostgreSQL (`veza copy-db` moves one into it)")  # fmt: skip
                continue
            make_dirs(settings.sqlite_path.parent)
            copy_atomically(source / name, settings.sqlite_path)
        elif name == SECRET:
            write_atomically(settings.data_dir / SECRET, (source / name).read_bytes(), mode=0o600)
        elif name == CONFIG:
            write_atomically(settings.data_dir / CONFIG, (source / name).read_bytes(), mode=0o600)
            notes.append(
                f"the backed-up settings are in {settings.data_dir / CONFIG}: use them with "
                "--config (check data_dir and the paths in it)"
            )
        elif name.startswith(f"{MEDIA}/"):
            target = settings.media_dir / Path(name).relative_to(MEDIA)
            make_dirs(target.parent)
            copy_atomically(source / name, target)
    if manifest.get("database") == "postgresql":
        notes.append("restore the PostgreSQL database with pg_restore (docs/deployment.md)")
    return notes


async def _requeue(settings: Settings) -> int:
    """Bring the schema up to date, then queue a transcode for each track whose renditions
    are absent: what `veza check --media --repair` does."""
    async with database_runtime(settings), open_store(settings) as store:
        services = build_services(settings, store, secret=ensure_secret(settings))
        report = await services.media_check.run(repair=True)
    return report.requeued


def run_backup(settings: Settings, arguments: argparse.Namespace) -> int:
    config = _config_file(arguments)
    try:
        notes = backup(settings, arguments.dest, media=not arguments.no_media, config=config)
    except BackupError as error:
        print(f"veza: {error}", file=sys.stderr)
        return 1
    for note in notes:
        print(f"note: {note}")
    print(f"backup written to {arguments.dest.resolve()}")
    return 0


def run_restore(settings: Settings, arguments: argparse.Namespace) -> int:
    try:
        notes = restore(settings, arguments.source)
    except BackupError as error:
        print(f"veza: {error}", file=sys.stderr)
        return 1
    requeued = trio.run(_requeue, settings)
    for note in notes:
        print(f"note: {note}")
    print(f"restored into {settings.data_dir.resolve()}; {requeued} transcode(s) queued")
    return 0
