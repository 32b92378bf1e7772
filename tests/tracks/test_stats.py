"""Listening stats over real HTTP on both backends: plays counted once per listen however many
reports arrive at once, the play threshold, likes, a track's counts, my stats and the top list."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import trio

from tests.support.accounts import bearer, register
from tests.support.library import BACKENDS, library_server, upload
from tests.support.server import RunningServer, assert_error
from tests.support.tracks import write_music


async def _report(
    server: RunningServer, token: str, track_id: str, listen_id: str, seconds: float
) -> dict[str, object]:
    response = await server.client.post(
        f"/api/v1/tracks/{track_id}/plays",
        json={"listen_id": listen_id, "seconds": seconds},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
async def test_concurrent_reports_count_one_play_per_listen(backend: str, tmp_path: Path) -> None:
    # Long enough that its transcode (running meanwhile) never brings the threshold under 30 s.
    async with library_server(backend, tmp_path) as server:
        alice = await register(server.client, "alice")
        bob = await register(server.client, "bob")
        source = write_music(tmp_path / "song.wav", 70)
        track = (
            # Public: Bob listens to Alice's track (a private one would be 404 to him).
            await upload(
                server, alice["access_token"], source, artist="Ann", album="Al", visibility="public"
            )
        ).json()
        token, track_id = bob["access_token"], track["id"]

        # Under the threshold: a listen, not yet a play.
        short = await _report(server, token, track_id, "early", 10)
        assert short["counted"] is False
        stats = (
            await server.client.get(f"/api/v1/tracks/{track_id}/stats", headers=bearer(token))
        ).json()
        assert stats["plays"] == 0

        # Twenty reports of one listen at once: one play.
        async with trio.open_nursery() as nursery:
            for _ in range(20):
                nursery.start_soon(_report, server, token, track_id, "one-listen", 45)
        # Ten listens at once, by another listener: ten plays.
        async with trio.open_nursery() as nursery:
            for _ in range(10):
                nursery.start_soon(
                    _report, server, alice["access_token"], track_id, secrets.token_hex(8), 31
                )
        # The early listen goes on past the threshold: it counts now, once.
        assert (await _report(server, token, track_id, "early", 40))["counted"] is True
        assert (await _report(server, token, track_id, "early", 20))["seconds"] == 40

        stats = (
            await server.client.get(f"/api/v1/tracks/{track_id}/stats", headers=bearer(token))
        ).json()
        assert stats == {"plays": 12, "listeners": 2, "likes": 0, "liked": False}

        mine = await server.client.get("/api/v1/me/stats?period=week", headers=bearer(token))
        assert mine.status_code == 200, mine.text
        body = mine.json()
        assert body["plays"] == 2 and body["seconds"] == 85
        assert [(t["id"], t["plays"]) for t in body["top_tracks"]] == [(track_id, 2)]
        assert body["top_artists"] == [{"artist": "Ann", "plays": 2, "seconds": 85}]
        assert body["top_albums"] == [{"artist": "Ann", "album": "Al", "plays": 2, "seconds": 85}]

        top = (
            await server.client.get("/api/v1/stats/top?period=all", headers=bearer(token))
        ).json()
        assert [(t["id"], t["plays"]) for t in top["items"]] == [(track_id, 12)]


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
async def test_likes_and_the_mistakes_a_client_can_make(backend: str, tmp_path: Path) -> None:
    async with library_server(backend, tmp_path) as server:
        alice = await register(server.client, "alice")
        token = alice["access_token"]
        first = (await upload(server, token, write_music(tmp_path / "a.wav", 2))).json()["id"]
        second = (await upload(server, token, write_music(tmp_path / "b.wav", 3))).json()["id"]
        for _ in range(2):
            like = await server.client.put(f"/api/v1/tracks/{first}/like", headers=bearer(token))
            assert like.status_code == 204
        stats = (
            await server.client.get(f"/api/v1/tracks/{first}/stats", headers=bearer(token))
        ).json()
        assert (stats["likes"], stats["liked"]) == (1, True)
        for _ in range(2):
            gone = await server.client.delete(f"/api/v1/tracks/{first}/like", headers=bearer(token))
            assert gone.status_code == 204
        stats = (
            await server.client.get(f"/api/v1/tracks/{first}/stats", headers=bearer(token))
        ).json()
        assert (stats["likes"], stats["liked"]) == (0, False)

        await _report(server, token, first, "mine", 1)
        reused = await server.client.post(
            f"/api/v1/tracks/{second}/plays",
            json={"listen_id": "mine", "seconds": 5},
            headers=bearer(token),
        )
        assert_error(reused, 409, "conflict")
        for wrong in ({"listen_id": "", "seconds": 1}, {"listen_id": "x", "seconds": -1}):
            bad = await server.client.post(
                f"/api/v1/tracks/{first}/plays", json=wrong, headers=bearer(token)
            )
            assert_error(bad, 422, "validation_failed")
        missing = await server.client.put("/api/v1/tracks/nope/like", headers=bearer(token))
        assert_error(missing, 404, "not_found")
        period = await server.client.get("/api/v1/me/stats?period=decade", headers=bearer(token))
        assert_error(period, 422, "validation_failed")
        anonymous = await server.client.get(f"/api/v1/tracks/{first}/stats")
        assert_error(anonymous, 401, "unauthenticated")
