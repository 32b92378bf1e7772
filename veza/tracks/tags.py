"""What a file says about itself: its tags, and which extension it may keep in the library."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mutagen

from veza.errors import ValidationFailed

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


def checked_tag(field: str, value: str) -> str:
    """A tag a client gave: trimmed, bounded, printable (PostgreSQL refuses NUL in text, and no
    listing should carry control characters); ValidationFailed naming the field otherwise."""
    value = value.strip()
    if len(value) > TAG_MAX_CHARS:
        raise ValidationFailed(f"{field}: at most {TAG_MAX_CHARS} characters")
    if not value.isprintable():
        raise ValidationFailed(f"{field}: control characters are not allowed")
    return value


def _printable(text: str) -> str:
    """A tag found in a file, kept to what can be stored and shown: control characters go."""
    return "".join(c if c.isprintable() else " " for c in text).strip()[:TAG_MAX_CHARS]


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
        return _printable(str(values[0]))

    return Tags(first("title"), first("artist"), first("album"))


def safe_extension(filename: str) -> str:
    extension = Path(filename).suffix.lower()
    return extension if extension in KNOWN_EXTENSIONS else ".bin"
