"""Transcode jobs publish what happens to a track on `track:{id}`: progress as it goes, then
ready or failed once the outcome is committed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from tests.support import require_tool
from tests.support.server import make_settings
from tests.support.tracks import write_damaged_flac, write_music
from veza.app import build_services
from veza.events import Delivery
from veza.services import Services
from veza.store import open_store
from veza.tracks.events import TrackFailed, TrackProgress, TrackReady, track_topic


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    """The services of a server whose workers are not started yet: a test queues a job and
    subscribes to its track before any worker can claim it."""
    settings = make_settings(tmp_path / "data")
    async with open_store(settings) as store:
        built = build_services(settings, store, secret="s" * 40)
        await built.tracks.prepare()
        yield built


async def deliveries_until_settled(services: Services, track_id: str) -> list[Delivery]:
    received: list[Delivery] = []
    async with trio.open_nursery() as nursery:
        async with services.events.subscribe(track_topic(track_id)) as subscription:
            await nursery.start(services.workers.run)
            with trio.fail_after(60):
                async for delivery in subscription:
                    received.append(delivery)
                    if not isinstance(delivery.event, TrackProgress):
                        break
        nursery.cancel_scope.cancel()
    return received


@pytest.mark.slow
async def test_a_transcode_publishes_its_progress_then_ready(
    services: Services, tmp_path: Path
) -> None:
    require_tool("ffmpeg")
    track = await services.tracks.import_file(write_music(tmp_path / "a.wav", 20))
    received = await deliveries_until_settled(services, track.id)
    assert {d.topic for d in received} == {f"track:{track.id}"}
    *progress, last = [d.event for d in received]
    assert last == TrackReady(track.id, (await services.tracks.get(track.id)).duration_s or 0)
    # What a subscriber sees is already committed: the track reads as ready.
    assert (await services.tracks.get(track.id)).status == "ready"
    fractions = [event.fraction for event in progress if isinstance(event, TrackProgress)]
    assert len(fractions) == len(progress) >= 1
    assert fractions == sorted(fractions) and 0 < fractions[-1] <= 1


async def test_a_damaged_file_publishes_failed_with_its_reason(
    services: Services, tmp_path: Path
) -> None:
    track = await services.tracks.import_file(write_damaged_flac(tmp_path / "damaged.flac"))
    received = await deliveries_until_settled(services, track.id)
    failed = received[-1].event
    assert isinstance(failed, TrackFailed) and failed.track_id == track.id
    stored = await services.tracks.get(track.id)
    assert stored.status == "failed" and stored.error and failed.reason == stored.error
