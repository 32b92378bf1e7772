"""Matching imported entries to the library (veza/playlists/matching.py), directly: only what
the entries ask for is kept, the oldest track wins a key, and every way of naming a track
(title and artist, title alone, file name, "Artist - Title" file name) finds it."""

from __future__ import annotations

from veza.playlists.formats import ImportedEntry
from veza.playlists.matching import EntryMatcher
from veza.store.tracks import Track


def track(track_id: str, title: str, artist: str, original_name: str = "x.flac") -> Track:
    row = {name: None for name in Track.__dataclass_fields__}
    row.update(id=track_id, title=title, artist=artist, original_name=original_name)
    return Track(**row)


def entry(title: str = "", artist: str = "", location: str = "") -> ImportedEntry:
    return ImportedEntry(0, title, artist, location)


def matcher(entries: list[ImportedEntry], library: list[Track]) -> EntryMatcher:
    found = EntryMatcher(entries)
    for t in library:
        found.offer(t)
    return found


def test_each_way_of_naming_a_track_finds_it() -> None:
    library = [
        track("halo", "Halo", "Beyoncé"),
        track("hoppipolla", "Hoppípolla", "Sigur Rós"),
        track("cafe", "Something else", "", original_name="Café del Mar.ogg"),
    ]
    by_pair, by_title = entry("HALO", "beyonce"), entry("hoppipolla")
    by_file = entry(location="/home/me/Music/cafe del mar.mp3")
    by_named_file = entry(location="file:///m/Sigur%20Ros%20-%20Hoppipolla.flac")
    found = matcher([by_pair, by_title, by_file, by_named_file], library)
    assert [found.match(e) for e in (by_pair, by_title, by_file, by_named_file)] == [
        library[0],
        library[1],
        library[2],
        library[1],
    ]


def test_the_oldest_track_wins_and_nothing_else_is_kept() -> None:
    library = [track(f"halo{n}", "Halo", "Beyoncé") for n in range(3)]
    library += [track(f"other{n}", f"Song {n}", "Someone") for n in range(100)]
    wanted = entry("Halo", "Beyonce")
    found = matcher([wanted, entry("Absent", "Nobody")], library)
    assert found.match(wanted) is library[0]
    assert found.match(entry("Absent", "Nobody")) is None
    kept = {id(t) for d in vars(found).values() if isinstance(d, dict) for t in d.values()}
    assert kept == {id(library[0])}


def test_an_artist_that_differs_is_no_match_by_title() -> None:
    found = matcher([entry("Halo", "Someone Else")], [track("halo", "Halo", "Beyoncé")])
    assert found.match(entry("Halo", "Someone Else")) is None
