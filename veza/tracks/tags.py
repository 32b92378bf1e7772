"""What a file says about itself: its tags, and which extension it may keep in the library."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mutagen

TAG_MAX_CHARS = 500

# The original keeps its extension only when it is one we know; it never names a path itself.
KNOWN_EXTENSIONS = frozenset(
    (
        ".wav",
        ".wave",
        ".flac",
        ".ogg",
        ".oga",
        ".opus",
        ".mp3",
        ".aif",
        ".aiff",
        ".aifc",
        ".m4a",
        ".mp4",
        ".aac",
        ".alac",
        ".wma",
        ".caf",
        ".w64",
        ".webm",
        ".mka",
    )
)


@dataclass(frozen=True)
class Tags:
    title: str = ""
    artist: str = ""
    album: str = ""


def read_tags(path: Path) -> Tags:
    """Title, artist and album from the file's own tags (blocking; empty when it has none)."""
    try:
        found = mutagen.File(path, easy=True)
    except (mutagen.MutagenError, OSError, ValueError):
        return Tags()
    if found is None or found.tags is None:
        return Tags()

    def first(key: str) -> str:
        values = found.tags.get(key) or [""]
        return str(values[0]).strip()[:TAG_MAX_CHARS]

    return Tags(first("title"), first("artist"), first("album"))


def safe_extension(filename: str) -> str:
    extension = Path(filename).suffix.lower()
    return extension if extension in KNOWN_EXTENSIONS else ".bin"
