"""The tracks repository on every backend: an owner's tracks still processing."""

from __future__ import annotations

from veza.store import Store
from veza.store.database import Database
from veza.store.migrations import migrate
from veza.store.tracks import NewTrack


def new(track_id: str, owner_id: str | None) -> NewTrack:
    return NewTrack(track_id, owner_id, "t", "", "", "t.wav", ".wav", 1)


async def test_an_owners_processing_tracks_oldest_first_and_bounded(database: Database) -> None:
    await migrate(database)
    tracks = Store(database).tracks
    for n in range(4):
        await tracks.create(new(f"mine{n}", "owner"))
    await tracks.create(new("theirs", "other"))
    await tracks.create(new("imported", None))
    await tracks.mark_failed("mine1", "damaged")
    assert await tracks.processing_of("owner", 10) == ["mine0", "mine2", "mine3"]
    assert await tracks.processing_of("owner", 2) == ["mine0", "mine2"]
    assert await tracks.processing_of("nobody", 10) == []
