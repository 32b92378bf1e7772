"""Walking folders of music (a music folder's scan, `veza import DIR`): which files may be audio,
what is skipped and why. Blocking: run it in a thread. Nothing here writes."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from veza.audio.sniff import HEAD_BYTES, audio_container

# Raw streams without a header: nothing in their first bytes says audio (veza/audio/sniff.py),
# so their extension lets them through to the probe, which decides.
RAW_STREAM_EXTENSIONS = frozenset({".mp3", ".mp2", ".aac", ".ac3"})
# Cover art beside a file, in order of preference.
COVER_NAMES = ("cover.jpg", "folder.jpg")
COVER_MAX_BYTES = 16 * 1024 * 1024

HIDDEN = "hidden"
SYMLINK_OUT = "a link leading out of the folder"
NOT_AUDIO = "not audio"
UNREADABLE = "unreadable"


@dataclass(frozen=True)
class FoundFile:
    path: Path  # resolved: symlinks followed, inside its folder
    size: int
    mtime: float


@dataclass
class Walk:
    files: list[FoundFile] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # why -> how many
    unreadable_roots: list[Path] = field(default_factory=list)
    roots: list[Path] = field(default_factory=list)  # those walked, resolved


def looks_like_audio(path: Path) -> bool:
    """Worth probing: its first bytes name an audio container, or it is named as a raw stream."""
    with path.open("rb") as file:
        head = file.read(HEAD_BYTES)
    return audio_container(head) is not None or path.suffix.lower() in RAW_STREAM_EXTENSIONS


def walk(roots: list[Path]) -> Walk:
    """Every file under `roots` that may be audio, in a stable order; hidden files and folders,
    links leading out of their folder, and files that are plainly not audio are skipped and
    counted. A root that cannot be read is listed apart (its tracks must not be taken for gone)."""
    found = Walk()
    seen: set[Path] = set()
    for root in roots:
        try:
            real_root = root.resolve(strict=True)
            if not real_root.is_dir():
                raise NotADirectoryError(root)
            os.listdir(real_root)
        except OSError:
            found.unreadable_roots.append(root)
            continue
        found.roots.append(real_root)
        for directory, folders, names in os.walk(real_root):  # links to folders not followed
            hidden = [name for name in folders if name.startswith(".")]
            if hidden:
                found.skipped[HIDDEN] += len(hidden)
            folders[:] = sorted(name for name in folders if not name.startswith("."))
            for name in sorted(names):
                _consider(Path(directory) / name, real_root, found, seen)
    return found


def _consider(path: Path, root: Path, found: Walk, seen: set[Path]) -> None:
    if path.name.startswith("."):
        found.skipped[HIDDEN] += 1
        return
    try:
        real = path.resolve(strict=True)
        if not real.is_relative_to(root):
            found.skipped[SYMLINK_OUT] += 1
            return
        stat = real.stat()
        if not real.is_file() or real in seen:
            return
        if not looks_like_audio(real):
            found.skipped[NOT_AUDIO] += 1
            return
    except OSError:
        found.skipped[UNREADABLE] += 1
        return
    seen.add(real)
    found.files.append(FoundFile(real, stat.st_size, stat.st_mtime))


def content_hash(path: Path) -> str:
    """SHA-256 (hex) of a file, read in steps (blocking)."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def cover_beside(path: Path) -> bytes | None:
    """The bytes of a `cover.jpg` or `folder.jpg` in the file's folder, if one is there and of
    a sane size (blocking)."""
    for name in COVER_NAMES:
        candidate = path.parent / name
        try:
            if candidate.is_file() and candidate.stat().st_size <= COVER_MAX_BYTES:
                return candidate.read_bytes()
        except OSError:
            continue
    return None
