"""The catalogue in the store, on both backends: rows from before migration 8 are folded at
start-up, the fold itself, and album and artist ids that survive spelling differences."""

from __future__ import annotations

import time

from veza.store import Store
from veza.store.database import Database
from veza.store.migrations import MIGRATIONS, migrate
from veza.store.search import album_id, artist_id, fold, postings
from veza.store.tracks import PUBLIC, VISIBILITIES, Shown, TrackSearch


def test_the_fold_ignores_case_accents_and_spacing() -> None:
    assert fold("  Äpfel  UND\tBirnen ") == "apfel und birnen"
    assert fold("BEYONCÉ") == fold("beyonce") == fold("Beyonce\u0301")  # composed or not
    assert fold("Straße") == "strasse" and fold("ﬁre") == "fire"  # casefold, compatibility
    assert artist_id("Beyoncé") == artist_id("BEYONCE") != artist_id("Beyonce Knowles")
    assert album_id("Various", "Früchte") == album_id("VARIOUS", "fruchte")
    assert album_id("Various", "Früchte") != album_id("Someone", "Früchte")
    assert album_id("Various", "") == "" and artist_id("") == ""


def test_postings_keep_the_best_place_of_each_prefix() -> None:
    found = postings("Love Me Do", "The Beatles", "Please Please Me", "")
    assert found["lo"] == found["love"] == 0  # the title starts with it
    assert found["me"] == 1  # a later title word (also in the album: the better place wins)
    assert found["beatles"] == 2 and found["pl"] == 3
    assert "l" not in found  # one-letter prefixes only for one-letter words
    assert postings("A", "", "", "")["a"] == 0


async def test_rows_from_before_the_catalogue_are_folded_and_found(database: Database) -> None:
    before = tuple(m for m in MIGRATIONS if m.version < 8)
    await migrate(database, before)
    now = time.time()
    await database.execute(
        """INSERT INTO tracks (id, owner_id, title, artist, album, original_name, original_ext,
               original_bytes, status, created_at, updated_at)
           VALUES (?, NULL, ?, ?, ?, 'a.mp3', '.mp3', 1, 'ready', ?, ?)""",
        ("a" * 24, "Äpfel", "Beyoncé", "Früchte", now, now),
    )
    await migrate(database)
    store = Store(database)
    everyone = Shown(VISIBILITIES, None)
    assert await store.tracks.search(TrackSearch(query="apfel"), everyone, None, 10) == []
    async with store.transaction() as tx:
        assert await tx.tracks.refold(500) == 1
    async with store.transaction() as tx:
        assert await tx.tracks.refold(500) == 0  # done once
    found = await store.tracks.search(
        TrackSearch(query="beyonce apf", sort="relevance"), Shown((PUBLIC,), None), None, 10
    )
    assert [track.title for track, _ in found] == ["Äpfel"]
    track = found[0][0]
    assert track.visibility == PUBLIC  # rows from before stay visible as they were
    assert track.album_id == album_id("Beyoncé", "Früchte")
    albums = await store.albums.albums(everyone, "name", None, 10)
    assert [(row.title, row.artist, row.tracks) for row, _ in albums] == [("Früchte", "Beyoncé", 1)]
