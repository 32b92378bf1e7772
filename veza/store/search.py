"""The catalogue's normal forms: text folded for search, the words a track is found by, and the
stable ids of albums and artists (pure functions; the track repository stores what they give)."""

from __future__ import annotations

import hashlib
import re
import unicodedata

# Bump when `fold` or `words` change: rows folded by an older version are folded again at
# start-up (Tracks.prepare), so stored and queried forms always agree.
FOLD_VERSION = 1

# A query word of one character matches that word exactly; longer ones match as a prefix
# ("bey" finds "Beyoncé"): every prefix of a stored word from 2 to PREFIX_MAX_CHARS characters
# is indexed (a longer query word is looked up by its first PREFIX_MAX_CHARS and checked whole).
PREFIX_MIN_CHARS = 2
PREFIX_MAX_CHARS = 16
WORD_MAX_CHARS = 64
# Where a word was found, best first: the relevance of a track to a query word.
TITLE_START, TITLE, ARTIST, ALBUM = 0, 1, 2, 3
_WORD = re.compile(r"\w+")
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Case- and accent-insensitive form: NFKD, combining marks dropped, case-folded, runs of
    white space made one space. `Äpfel` and `apfel`, `Beyoncé` and `BEYONCE` fold alike."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    # casefold may compose again (ß -> ss is fine; some letters decompose further): normalise once
    # more so that a query and a stored value built from differently composed input agree.
    folded = unicodedata.normalize("NFKC", bare.casefold())
    return _SPACES.sub(" ", folded).strip()


def words(*texts: str) -> set[str]:
    """The distinct folded words of `texts` (letters, digits and underscores), each bounded."""
    found: set[str] = set()
    for text in texts:
        found.update(w[:WORD_MAX_CHARS] for w in _WORD.findall(fold(text)))
    return found


def query_words(query: str) -> list[str]:
    """The words a query is made of, folded, in order, without repeats."""
    return list(dict.fromkeys(w[:WORD_MAX_CHARS] for w in _WORD.findall(fold(query))))


def prefixes(word: str) -> list[str]:
    """The indexed prefixes of a stored word (a one-letter word is its own)."""
    shortest = min(PREFIX_MIN_CHARS, len(word))
    return [word[:n] for n in range(shortest, min(len(word), PREFIX_MAX_CHARS) + 1)]


def postings(title: str, artist: str, album: str, album_artist: str) -> dict[str, int]:
    """Every indexed prefix of a track's words, each with the best place a word having it was
    found (TITLE_START ... ALBUM)."""
    found: dict[str, int] = {}
    title_words = query_words(title)
    places = [
        (TITLE_START, title_words[:1]),
        (TITLE, title_words[1:]),
        (ARTIST, query_words(artist) + query_words(album_artist)),
        (ALBUM, query_words(album)),
    ]
    for place, texts in places:
        for word in texts:
            for prefix in prefixes(word):
                found[prefix] = min(found.get(prefix, place), place)
    return found


def lookup(word: str) -> str:
    """The indexed prefix a query word is looked up by."""
    return word[:PREFIX_MAX_CHARS]


def _stable_id(kind: str, *parts: str) -> str:
    digest = hashlib.sha256("\x00".join((kind, *parts)).encode()).hexdigest()
    return digest[:24]


def artist_id(name: str) -> str:
    """The id of an artist, from the folded name: the same for every spelling that folds alike;
    empty when there is no name."""
    key = fold(name)
    return _stable_id("artist", key) if key else ""


def album_id(album_artist: str, title: str) -> str:
    """The id of an album: its album artist (or, without one, its artist) and its title, both
    folded; empty when the track names no album."""
    key = fold(title)
    return _stable_id("album", fold(album_artist), key) if key else ""
