"""Files that are whole or absent: written under a temporary name, fsynced, renamed into place,
with the directory entry made durable too (blocking calls: run them in a worker thread)."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

TMP_SUFFIX = ".tmp"


def _temporary_name(path: Path) -> Path:
    # Hidden and suffixed, so `remove_temporary_files` can find what a crash left behind.
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{TMP_SUFFIX}")


def fsync_dir(path: Path) -> None:
    """Make the entries of a directory (a rename, a new file) survive a power cut."""
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def make_dirs(path: Path) -> None:
    """mkdir -p, each new directory's entry made durable in its parent."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        directory.mkdir(exist_ok=True)
        fsync_dir(directory.parent)


def _write_temporary(path: Path, data: bytes, mode: int) -> Path:
    temporary = _temporary_name(path)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def write_atomically(path: Path, data: bytes, *, mode: int = 0o644, sync_dir: bool = True) -> None:
    """Replace `path` with `data`. `sync_dir=False` leaves the directory sync to the caller,
    for many files written in a row into one directory."""
    temporary = _write_temporary(path, data, mode)
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if sync_dir:
        fsync_dir(path.parent)


def create_once(path: Path, data: bytes, *, mode: int = 0o600) -> bytes:
    """Create `path` holding `data` unless it exists; return what the file holds either way.
    Safe when several processes race: exactly one creates it, all read the same bytes."""
    temporary = _write_temporary(path, data, mode)
    try:
        os.link(temporary, path)
        fsync_dir(path.parent)
        return data
    except FileExistsError:
        return path.read_bytes()
    finally:
        temporary.unlink(missing_ok=True)


def copy_atomically(source: Path, destination: Path) -> int:
    """Copy a file into place whole; return its size."""
    temporary = _temporary_name(destination)
    try:
        with source.open("rb") as reader, temporary.open("xb") as writer:
            shutil.copyfileobj(reader, writer, 1 << 20)
            writer.flush()
            os.fsync(writer.fileno())
        os.replace(temporary, destination)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_dir(destination.parent)
    return destination.stat().st_size


def move_into_place(source: Path, destination: Path) -> int:
    """Move a finished file (on the same filesystem) into place durably; return its size."""
    with source.open("rb") as file:
        os.fsync(file.fileno())
    os.replace(source, destination)
    fsync_dir(destination.parent)
    return destination.stat().st_size


def remove_temporary_files(directory: Path) -> None:
    """Temporary files a crash left behind under `directory`."""
    if directory.is_dir():
        for leftover in directory.rglob(f".*{TMP_SUFFIX}"):
            leftover.unlink(missing_ok=True)
