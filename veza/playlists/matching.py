"""Matching an imported playlist's entries to tracks: by title and artist (case and accents
aside), else by file name. Pure: the library is offered a track at a time, and only what the
entries ask for is kept, so an import costs memory by its entries, never by the library."""

from __future__ import annotations

from veza.playlists.formats import ImportedEntry, fold
from veza.tracks import Track

__all__ = ["EntryMatcher"]


def _split_file_stem(stem: str) -> tuple[str, str] | None:
    """("Artist", "Title") of "Artist - Title", the way many players name files."""
    left, sep, right = stem.partition(" - ")
    return (left, right) if sep else None


class EntryMatcher:
    """The keys an import's entries ask for, and the first track offered for each: offer the
    library oldest first and the oldest track wins a key, as a person would expect."""

    def __init__(self, entries: list[ImportedEntry]) -> None:
        self._pairs: set[tuple[str, str]] = set()
        self._titles: set[str] = set()
        self._stems: set[str] = set()
        for entry in entries:
            title, artist = fold(entry.title), fold(entry.artist)
            if title and artist:
                self._pairs.add((title, artist))
            elif title:
                self._titles.add(title)
            stem = fold(entry.file_stem)
            if stem:
                self._stems.add(stem)
                self._titles.add(stem)
                split = _split_file_stem(stem)
                if split is not None:
                    self._pairs.add((split[1], split[0]))
        self._by_pair: dict[tuple[str, str], Track] = {}
        self._by_title: dict[str, Track] = {}
        self._by_file: dict[str, Track] = {}

    def offer(self, track: Track) -> None:
        """Consider one track of the library (oldest first)."""
        title = fold(track.title)
        pair = (title, fold(track.artist))
        if pair in self._pairs:
            self._by_pair.setdefault(pair, track)
        if title in self._titles:
            self._by_title.setdefault(title, track)
        stem = track.original_name.rpartition(".")[0] or track.original_name
        folded_stem = fold(stem)
        if folded_stem in self._stems:
            self._by_file.setdefault(folded_stem, track)

    def match(self, entry: ImportedEntry) -> Track | None:
        """The track `entry` names, or None."""
        title, artist = fold(entry.title), fold(entry.artist)
        if title and artist and (title, artist) in self._by_pair:
            return self._by_pair[title, artist]
        if title and not artist and title in self._by_title:
            return self._by_title[title]
        stem = fold(entry.file_stem)
        if not stem:
            return None
        if stem in self._by_file:
            return self._by_file[stem]
        split = _split_file_stem(stem)
        if split is not None and (split[1], split[0]) in self._by_pair:
            return self._by_pair[split[1], split[0]]
        return self._by_title.get(stem)
