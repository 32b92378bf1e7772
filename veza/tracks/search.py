"""Searching the catalogue: what a track list asks for (words, filters, a sort), and the one
fold that makes stored text and queries case- and accent-insensitive alike. The matching and
ranking themselves are SQL, in the track repository (veza/store/tracks.py), over the words
index both backends keep (a prefix is an index range, so search costs the same on SQLite and
PostgreSQL and needs no extension)."""

from veza.store.search import fold
from veza.store.tracks import SORTS, TrackSearch

__all__ = ["SORTS", "TrackSearch", "fold"]
