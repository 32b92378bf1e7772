"""Generations: a ladder change re-transcodes tracks behind new uploads, URLs name their
generation, and the generation that plays keeps playing until the next one is ready."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support import eventually, require_tool
from tests.support.accounts import bearer, fast_settings, register
from tests.support.server import RunningServer, serving
from tests.support.tracks import wait_for_track, write_music
from veza.nursery.jobs import Priority
from veza.store import Store, open_store


async def stream(server: RunningServer, token: str, track_id: str) -> dict[str, str]:
    response = await server.client.get(f"/api/v1/tracks/{track_id}/stream", headers=bearer(token))
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


async def first_segment(client: httpx.AsyncClient, master_url: str) -> tuple[str, bytes]:
    """The URL and bytes of the first segment of the master's first variant."""
    master = (await client.get(master_url)).text
    base = master_url.split("?")[0].rsplit("/", 1)[0]
    variant = next(line for line in master.splitlines() if line and not line.startswith("#"))
    media_url = f"{base}/{variant}"
    media = (await client.get(media_url)).text
    segment = next(line for line in media.splitlines() if line and not line.startswith("#"))
    url = f"{media_url.split('?')[0].rsplit('/', 1)[0]}/{segment}"
    response = await client.get(url)
    assert response.status_code == 200
    return url, response.content


@pytest.mark.slow
async def test_a_ladder_change_re_transcodes_without_breaking_what_was_served(
    tmp_path: Path,
) -> None:
    require_tool("ffmpeg")
    settings = fast_settings(tmp_path, ladder="aac:128")
    async with serving(settings) as server:
        token = (await register(server.client, "lena"))["access_token"]
        track = await server.services.tracks.import_file(write_music(tmp_path / "a.wav", 8))
        assert (await wait_for_track(server, track.id)).status == "ready"
        first = await stream(server, token, track.id)
        assert f"/hls/{track.id}/1/master.m3u8?token=" in first["hls_url"]
        assert first["hls_mp3_url"] is None
        old_url, old_bytes = await first_segment(server.client, first["hls_url"])
        old_base = server.url

    async with serving(settings) as server:  # same ladder: nothing to do
        assert (await server.store.jobs.counts()).get("queued", 0) == 0

    changed = fast_settings(tmp_path, ladder="aac:128,aac:64")
    async with serving(changed) as server:
        token = (await register(server.client, "mona"))["access_token"]

        async def second_generation_plays() -> bool:
            return (await server.services.tracks.get(track.id)).generation == 2

        await eventually(second_generation_plays, limit_s=60)
        ready = await server.services.tracks.get(track.id)
        assert ready.status == "ready" and ready.ladder == "aac:128,aac:64"
        assert {r["name"] for r in ready.renditions} == {"aac_128", "aac_64"}
        second = await stream(server, token, track.id)
        assert f"/hls/{track.id}/2/master.m3u8?token=" in second["hls_url"]
        # The generation served before still answers with the very same bytes.
        again = await server.client.get(old_url.removeprefix(old_base))
        assert again.status_code == 200 and again.content == old_bytes


async def test_while_a_new_generation_is_written_the_current_one_plays(tmp_path: Path) -> None:
    require_tool("ffmpeg")
    settings = fast_settings(tmp_path, ladder="aac:128")
    async with serving(settings) as server:
        track = await server.services.tracks.import_file(write_music(tmp_path / "a.wav", 4))
        await wait_for_track(server, track.id)
        # A transcode of generation 2 started (its row says so) but has written nothing yet.
        await server.store.tracks.start_generation(track.id, 2, "aac:64")
        token = (await register(server.client, "nina"))["access_token"]
        playing = await stream(server, token, track.id)
        assert f"/{track.id}/1/master.m3u8" in playing["hls_url"]
        current = await server.services.tracks.get(track.id)
        assert current.status == "ready" and current.building_generation == 2


async def test_uploads_are_claimed_before_background_work(tmp_path: Path) -> None:
    async with open_store(fast_settings(tmp_path)) as store:
        background = await store.jobs.enqueue("x", "old", priority=Priority.BACKGROUND)
        upload = await store.jobs.enqueue("x", "new", priority=Priority.INTERACTIVE)
        assert [await claim(store) for _ in range(2)] == [upload.id, background.id]


async def claim(store: Store) -> str | None:
    async with store.transaction() as tx:
        job = await tx.jobs.claim("w", 60)
    return None if job is None else job.id
