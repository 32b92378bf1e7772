"""What a file says about itself: its tags (text, numbers, ReplayGain, the embedded cover), and
which extension it may keep in the library."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import mutagen
from mutagen.flac import Picture

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


# An embedded picture larger than this is not taken as a cover (covers.py bounds uploads alike).
PICTURE_MAX_BYTES = 16 * 1024 * 1024
NUMBER_MAX = 9999
_FRONT_COVER = 3  # the picture type of a front cover (ID3 APIC, FLAC picture blocks)
_LEADING_NUMBER = re.compile(r"\s*(\d+)")
_DECIBELS = re.compile(r"\s*([-+]?\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class Tags:
    """Tags, from a file or a client. Empty text and None mean "not said"."""

    title: str = ""
    artist: str = ""
    album: str = ""
    album_artist: str = ""
    track_number: int | None = None
    disc_number: int | None = None
    year: int | None = None
    genre: str = ""
    # ReplayGain as the file states it (dB, and linear peaks), kept for players that use it.
    replaygain_track_gain_db: float | None = None
    replaygain_track_peak: float | None = None
    replaygain_album_gain_db: float | None = None
    replaygain_album_peak: float | None = None
    picture: bytes | None = None  # the embedded cover, as found (decoded only by covers.py)

    def over(self, found: Tags) -> Tags:
        """These tags where they say something, `found`'s elsewhere."""
        said = {f.name: getattr(self, f.name) for f in fields(self)}
        return replace(found, **{k: v for k, v in said.items() if v not in ("", None)})


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


def number(text: str) -> int | None:
    """The leading number of a tag such as "3", "3/12" or "2019-05-01"; None when there is none
    or it is out of 1..9999."""
    found = _LEADING_NUMBER.match(text)
    value = int(found.group(1)) if found else 0
    return value if 1 <= value <= NUMBER_MAX else None


def _decibels(text: str) -> float | None:
    """The number in "-6.54 dB" or "0.988"; None when there is none or it is implausible."""
    found = _DECIBELS.match(text)
    value = float(found.group(1)) if found else None
    return value if value is not None and -100.0 <= value <= 100.0 else None


def _text(value: Any) -> str:
    if isinstance(value, bytes):  # MP4 free-form atoms hold bytes
        return value.decode("utf-8", "replace")
    return str(value)


def _replaygain(tags: Any) -> dict[str, float | None]:
    """ReplayGain values wherever the format keeps them: ID3 TXXX frames, Vorbis comments,
    MP4 free-form atoms (com.apple.iTunes)."""
    found: dict[str, str] = {}
    try:
        items = list(tags.items())
    except (AttributeError, TypeError, ValueError):
        return {}
    for key, value in items:
        name = str(key).rsplit(":", 1)[-1].lower()
        if not name.startswith("replaygain_"):
            continue
        values = getattr(value, "text", value)
        if isinstance(values, list | tuple):
            values = values[0] if values else ""
        found[name] = _text(values)
    return {
        "replaygain_track_gain_db": _decibels(found.get("replaygain_track_gain", "")),
        "replaygain_track_peak": _decibels(found.get("replaygain_track_peak", "")),
        "replaygain_album_gain_db": _decibels(found.get("replaygain_album_gain", "")),
        "replaygain_album_peak": _decibels(found.get("replaygain_album_peak", "")),
    }


def _picture(audio: Any) -> bytes | None:
    """The embedded cover: a front cover when several pictures are there, else the first."""
    candidates: list[tuple[int, bytes]] = []  # (picture type, data)
    for picture in getattr(audio, "pictures", None) or []:  # FLAC picture blocks
        candidates.append((picture.type, picture.data))
    tags = audio.tags
    if tags is not None:
        for frame in tags.getall("APIC") if hasattr(tags, "getall") else []:  # ID3
            candidates.append((int(frame.type), frame.data))
        try:
            covers = tags.get("covr") or []  # MP4
            blocks = tags.get("metadata_block_picture") or []  # Ogg Vorbis / Opus
        except (AttributeError, TypeError, ValueError):
            covers, blocks = [], []
        candidates += [(_FRONT_COVER, bytes(cover)) for cover in covers]
        for block in blocks:
            try:
                picture = Picture(base64.b64decode(block))  # type: ignore[no-untyped-call]
            except (binascii.Error, mutagen.MutagenError, ValueError):
                continue
            candidates.append((picture.type, picture.data))
    usable = [c for c in candidates if 0 < len(c[1]) <= PICTURE_MAX_BYTES]
    usable.sort(key=lambda c: c[0] != _FRONT_COVER)  # stable: front covers first
    return usable[0][1] if usable else None


def read_tags(path: Path) -> Tags:
    """The file's own tags (blocking; empty when it has none or mutagen cannot read it)."""
    try:
        easy = mutagen.File(path, easy=True)
        full = mutagen.File(path)
    except (mutagen.MutagenError, OSError, ValueError):
        return Tags()
    if easy is None or easy.tags is None:
        return Tags()

    def first(key: str) -> str:
        try:
            values = easy.tags.get(key) or [""]
        except (KeyError, ValueError):  # a key the format's easy interface does not map
            return ""
        return _printable(str(values[0]))

    extra: dict[str, Any] = {}
    if full is not None and full.tags is not None:
        extra = {**_replaygain(full.tags), "picture": _picture(full)}
    return Tags(
        title=first("title"),
        artist=first("artist"),
        album=first("album"),
        album_artist=first("albumartist"),
        track_number=number(first("tracknumber")),
        disc_number=number(first("discnumber")),
        year=number(first("date")),
        genre=first("genre"),
        **extra,
    )


def safe_extension(filename: str) -> str:
    extension = Path(filename).suffix.lower()
    return extension if extension in KNOWN_EXTENSIONS else ".bin"
