"""Playlist files: the extended M3U an export writes, the M3U/M3U8 and XSPF an import reads,
matched to tracks with the catalogue's fold (veza/tracks/search.py). Pure functions over text
and bytes.

XSPF is read with the standard library's expat, defused by hand: a document with a DTD (the
door to entity expansion and external entities) is refused before anything is parsed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from urllib.parse import unquote, urlsplit
from xml.parsers import expat

from veza.errors import ValidationFailed
from veza.tracks.search import fold

__all__ = ["ExportEntry", "ImportedEntry", "fold", "parse_playlist", "render_m3u8"]

XSPF_NS = "{http://xspf.org/ns/0/}"
MAX_ENTRIES = 1000  # entries read from one imported file
MAX_FIELD_CHARS = 500


@dataclass(frozen=True)
class ExportEntry:
    title: str
    artist: str
    duration_s: float | None
    url: str


def render_m3u8(name: str, entries: list[ExportEntry], expires_note: str, skipped: int) -> str:
    """An extended M3U (UTF-8) of stream URLs, one `#EXTINF` per entry."""

    def clean(text: str) -> str:  # one line each, whatever the tags hold
        return " ".join(text.split())

    lines = ["#EXTM3U", f"#PLAYLIST:{clean(name)}", f"# {expires_note}"]
    if skipped:
        lines.append(f"# {skipped} entries left out: not playable (yet) or not available to you")
    for entry in entries:
        seconds = -1 if entry.duration_s is None else round(entry.duration_s)
        label = " - ".join(clean(part) for part in (entry.artist, entry.title) if part.strip())
        lines += [f"#EXTINF:{seconds},{label}", entry.url]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ImportedEntry:
    """One entry of an imported file: what it says about the track it names."""

    index: int  # 0-based, in file order
    title: str
    artist: str
    location: str

    @property
    def file_stem(self) -> str:
        """The file name the location ends with, without its extension ('' if none)."""
        path = unquote(urlsplit(self.location).path) if "://" in self.location else self.location
        windows = PureWindowsPath(path)
        name = windows.name if "\\" in path else PurePosixPath(path).name
        return PurePosixPath(name).stem


def _field(text: str | None) -> str:
    return " ".join((text or "").split())[:MAX_FIELD_CHARS]


def parse_playlist(data: bytes) -> tuple[str | None, list[ImportedEntry]]:
    """The title (XSPF only) and entries of an M3U, M3U8 or XSPF file; ValidationFailed when
    it is none of those."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:256].lower()
    if head.startswith(b"<"):
        return parse_xspf(data)
    return None, parse_m3u(data)


def parse_m3u(data: bytes) -> list[ImportedEntry]:
    """Entries of an M3U or M3U8: each URI line, with the `#EXTINF` before it ("Artist -
    Title", or a bare title)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # plain .m3u files are often in the system's encoding
    if "\x00" in text:
        raise ValidationFailed("file: not a playlist (M3U, M3U8 or XSPF)")
    entries: list[ImportedEntry] = []
    info: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if line.upper().startswith("#EXTINF:"):
                info = line.partition(",")[2]
            continue
        artist, title = "", ""
        if info is not None:
            artist, sep, title = info.partition(" - ")
            if not sep:
                artist, title = "", info
        entries.append(ImportedEntry(len(entries), _field(title), _field(artist), _field(line)))
        info = None
        if len(entries) > MAX_ENTRIES:
            raise ValidationFailed(f"file: more than {MAX_ENTRIES} entries")
    return entries


def _refuse_dtd(*_: object) -> None:
    raise ValidationFailed("file: XML with a DTD or entities is not accepted")


def _check_no_dtd(data: bytes) -> None:
    """Refuse any document type declaration or entity before the tree is built."""
    checker = expat.ParserCreate()
    checker.StartDoctypeDeclHandler = _refuse_dtd
    checker.EntityDeclHandler = _refuse_dtd
    checker.ExternalEntityRefHandler = _refuse_dtd  # type: ignore[assignment]
    checker.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        checker.Parse(data, True)
    except expat.ExpatError as error:
        reason = expat.ErrorString(error.code)
        raise ValidationFailed(f"file: not well-formed XML ({reason})") from None


def parse_xspf(data: bytes) -> tuple[str | None, list[ImportedEntry]]:
    _check_no_dtd(data)
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError:
        raise ValidationFailed("file: not well-formed XML") from None
    if root.tag != f"{XSPF_NS}playlist":
        raise ValidationFailed("file: not an XSPF playlist")
    title = root.findtext(f"{XSPF_NS}title")
    entries: list[ImportedEntry] = []
    for track in root.iterfind(f"{XSPF_NS}trackList/{XSPF_NS}track"):
        entries.append(
            ImportedEntry(
                len(entries),
                _field(track.findtext(f"{XSPF_NS}title")),
                _field(track.findtext(f"{XSPF_NS}creator")),
                _field(track.findtext(f"{XSPF_NS}location")),
            )
        )
        if len(entries) > MAX_ENTRIES:
            raise ValidationFailed(f"file: more than {MAX_ENTRIES} entries")
    return (_field(title) or None), entries
