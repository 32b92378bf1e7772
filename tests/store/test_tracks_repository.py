"""The tracks repository on every backend: an owner's tracks still processing, the ready library
read a page at a time; and claiming jobs by kind."""

from __future__ import annotations

from veza.store import Store
from veza.store.database import Database
from veza.store.migrations import MIGRATIONS, migrate
from veza.store.tracks import Measurements, NewTrack
from veza.tracks.loudness import playback_loudness


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


async def test_the_ready_library_is_read_a_page_at_a_time_oldest_first(database: Database) -> None:
    # A playlist import walks the library in pages: every ready track once, in (created_at, id)
    # order, across pages whose boundary falls between tracks created at the same instant.
    await migrate(database)
    store = Store(database)
    async with store.transaction() as tx:
        await tx.tracks.create_many([new(f"batch{n}", "owner") for n in range(5)])
    await store.tracks.create(new("later", "owner"))
    await store.tracks.create(new("processing", "owner"))
    for track_id in [*(f"batch{n}" for n in range(5)), "later"]:
        await store.tracks.mark_ready(
            track_id, 1, "aac:128", Measurements(1.0, None, None, 0, [], normalised=True)
        )
    seen: list[str] = []
    after: tuple[float, str] | None = None
    while page := await store.playlists.ready_tracks_page(after, 2):
        assert len(page) <= 2
        seen.extend(t.id for t in page)
        after = (page[-1].created_at, page[-1].id)
    assert seen == ["batch0", "batch1", "batch2", "batch3", "batch4", "later"]


async def test_claiming_among_no_kinds_claims_nothing(database: Database) -> None:
    # A command whose kinds all have workers of their own asks its shared workers for none.
    await migrate(database)
    store = Store(database)
    await store.jobs.enqueue("scan", "folders")
    async with store.transaction() as tx:
        assert await tx.jobs.claim("w", 60, ()) is None
        assert await tx.jobs.claim("w", 60, ("transcode",), ("scan",)) is None
        claimed = await tx.jobs.claim("w", 60, None, ("transcode",))
    assert claimed is not None and claimed.kind == "scan"


async def test_whether_renditions_are_normalised_is_stored_and_read_from_older_rows(
    database: Database,
) -> None:
    # Before migration 11 only the gain was stored: non-zero meant the renditions carry it.
    await migrate(database, MIGRATIONS[:10])
    store = Store(database)
    for track_id, gain in (("raised", 4.5), ("level", 0.0), ("fresh", None)):
        await store.tracks.create(new(track_id, "owner"))
        await database.execute("UPDATE tracks SET gain_db = ? WHERE id = ?", (gain, track_id))
    await migrate(database)
    read = {t.id: t.normalised for t in await store.tracks.get_many(["raised", "level", "fresh"])}
    assert read == {"raised": 1, "level": 0, "fresh": None}
    # Now the transcode says it: a track normalised by exactly 0 dB (silence, or one already at
    # the target) is normalised, and a player adds nothing to it.
    for track_id, normalised in (("level", True), ("raised", False)):
        measured = Measurements(1.0, -20.0, -9.0, 0.0, [], normalised=normalised)
        await store.tracks.mark_ready(track_id, 1, "aac:128", measured)
    level, raised = await store.tracks.get("level"), await store.tracks.get("raised")
    assert level is not None and raised is not None
    assert playback_loudness(level, -14.0, -1.0).normalised is True
    assert playback_loudness(level, -14.0, -1.0).suggested_gain_db == 0.0
    assert playback_loudness(raised, -14.0, -1.0).normalised is False
    assert playback_loudness(raised, -14.0, -1.0).suggested_gain_db == 6.0
