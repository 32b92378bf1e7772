"""Track routes over real HTTP: upload, browse, read, delete, play (HLS URL, original, waveform)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import soundfile as sf
import trio

from tests.support import require_tool
from tests.support.accounts import bearer, fast_settings, register
from tests.support.server import RunningServer
from tests.support.tracks import wait_for_track, write_damaged_flac, write_music
from veza.config import Settings
from veza.tracks.events import TrackProgress, track_topic


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path, max_upload_bytes=8 * 1024 * 1024)


async def upload(server: RunningServer, token: str, path: Path, **fields: str) -> httpx.Response:
    with path.open("rb") as file:
        return await server.client.post(
            "/api/v1/tracks",
            files={"file": (path.name, file, "audio/wav")},
            data=fields,
            headers=bearer(token),
        )


BOUNDARY = "vezaboundary"


async def chunked_multipart(data: bytes) -> AsyncIterator[bytes]:
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    for start in range(0, len(data), 256 * 1024):
        yield data[start : start + 256 * 1024]
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


async def wait_until_settled(server: RunningServer, token: str, track_id: str) -> dict[str, Any]:
    """The track as the API shows it once it is ready or failed."""
    await wait_for_track(server, track_id)
    response = await server.client.get(f"/api/v1/tracks/{track_id}", headers=bearer(token))
    found: dict[str, Any] = response.json()
    return found


async def test_an_upload_becomes_a_playable_track(server: RunningServer, tmp_path: Path) -> None:
    require_tool("ffmpeg")
    alice = await register(server.client, "alice")
    token = alice["access_token"]
    response = await upload(server, token, write_music(tmp_path / "My Song.wav", 5), artist="Me")
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status"] == "processing"
    assert (accepted["title"], accepted["artist"]) == ("My Song", "Me")
    assert accepted["owner_id"] == alice["user"]["id"]
    track = await wait_until_settled(server, token, accepted["id"])
    assert track["status"] == "ready", track["error"]
    assert track["progress"] == 1.0
    assert abs(track["duration_s"] - 5) < 0.05
    assert {r["name"] for r in track["renditions"]} == {"aac_256", "aac_128", "aac_64"}
    assert track["loudness"]["integrated_lufs"] is not None

    stream = await server.client.get(f"/api/v1/tracks/{track['id']}/stream", headers=bearer(token))
    assert stream.status_code == 200
    hls_url = stream.json()["hls_url"]
    assert hls_url.startswith(server.url) and "token=" in hls_url
    async with httpx.AsyncClient() as player:  # a player: no Authorization header at all
        master = await player.get(hls_url)
    assert master.status_code == 200 and "#EXT-X-STREAM-INF" in master.text

    peaks = await server.client.get(f"/api/v1/tracks/{track['id']}/waveform", headers=bearer(token))
    assert peaks.status_code == 200 and peaks.headers["content-type"] == "application/json"


async def test_the_original_is_served_whole_and_by_range(
    server: RunningServer, tmp_path: Path
) -> None:
    token = (await register(server.client, "bob"))["access_token"]
    source = write_music(tmp_path / "a.wav", 2)
    track = (await upload(server, token, source)).json()
    url = f"/api/v1/tracks/{track['id']}/original"
    whole = await server.client.get(url, headers=bearer(token))
    assert whole.status_code == 200
    assert whole.content == source.read_bytes()
    part = await server.client.get(url, headers={**bearer(token), "Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == source.read_bytes()[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{source.stat().st_size}"


async def test_the_library_is_listed_newest_first_searched_and_paged(
    server: RunningServer, tmp_path: Path
) -> None:
    token = (await register(server.client, "carol"))["access_token"]
    titles = ["Blue 100%", "Red", "blue_moon", "Green"]
    for number, title in enumerate(titles):
        # Files of different lengths: the same file twice would be one track.
        source = write_music(tmp_path / f"x{number}.wav", 0.5 + number / 100)
        assert (await upload(server, token, source, title=title)).status_code == 202
    listing = await server.client.get("/api/v1/tracks", headers=bearer(token))
    assert [t["title"] for t in listing.json()["items"]] == titles[::-1]
    found = await server.client.get("/api/v1/tracks", params={"q": "BLUE"}, headers=bearer(token))
    assert [t["title"] for t in found.json()["items"]] == ["blue_moon", "Blue 100%"]
    literal = await server.client.get("/api/v1/tracks", params={"q": "%"}, headers=bearer(token))
    assert [t["title"] for t in literal.json()["items"]] == ["Blue 100%"]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = await server.client.get("/api/v1/tracks", params=params, headers=bearer(token))
        body = page.json()
        seen += [t["title"] for t in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == titles[::-1]


async def test_upload_mistakes_are_clear_client_errors(
    server: RunningServer, tmp_path: Path
) -> None:
    token = (await register(server.client, "dave"))["access_token"]
    tracks = "/api/v1/tracks"
    as_json = await server.client.post(tracks, json={"file": "x"}, headers=bearer(token))
    assert as_json.status_code == 415
    no_file = await server.client.post(
        tracks, data={"title": "t"}, files={"other": ("a.txt", b"x")}, headers=bearer(token)
    )
    assert no_file.status_code == 422 and no_file.json()["error"]["code"] == "validation_failed"
    long_title = await upload(server, token, write_music(tmp_path / "a.wav", 0.5), title="t" * 501)
    assert long_title.status_code == 422
    nul = await upload(server, token, write_music(tmp_path / "b.wav", 0.5), artist="a\x00b")
    assert nul.status_code == 422 and "artist" in nul.json()["error"]["message"]
    huge = tmp_path / "huge.wav"
    huge.write_bytes(os.urandom(9 * 1024 * 1024))
    too_big = await upload(server, token, huge)
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "payload_too_large"
    # Sent chunked (no Content-Length): refused once it passes the limit, part-way through.
    streamed = await server.client.post(
        tracks,
        content=chunked_multipart(huge.read_bytes()),
        headers={**bearer(token), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert streamed.status_code == 413
    anonymous = await server.client.post(tracks, files={"file": ("a.wav", b"RIFF")})
    assert anonymous.status_code == 401
    # Nothing any of these left behind: no track, no spooled upload. The spools are removed
    # when the request's context is torn down, which is before its response is sent.
    assert (await server.client.get(tracks, headers=bearer(token))).json()["items"] == []
    assert list(server.settings.upload_dir.iterdir()) == []


async def test_a_guest_may_listen_but_not_upload(server: RunningServer, tmp_path: Path) -> None:
    guest = await register(server.client, "guest1")
    await server.store.accounts.set_role(guest["user"]["id"], "guest", 0.0)
    refused = await upload(server, guest["access_token"], write_music(tmp_path / "a.wav", 0.5))
    assert refused.status_code == 403
    listing = await server.client.get("/api/v1/tracks", headers=bearer(guest["access_token"]))
    assert listing.status_code == 200


async def test_only_the_owner_or_a_moderator_deletes_and_files_go_too(
    server: RunningServer, tmp_path: Path
) -> None:
    owner = (await register(server.client, "erin"))["access_token"]
    other = (await register(server.client, "frank"))["access_token"]
    moderator = await register(server.client, "grace")
    await server.store.accounts.set_role(moderator["user"]["id"], "moderator", 0.0)
    # Public, so the other user sees them and is refused (403); a private track they may not
    # see would answer 404 (tests/transport/api/test_catalogue_privacy.py). Two files: the
    # same one twice is the same track.
    first = (
        await upload(server, owner, write_music(tmp_path / "a.wav", 0.5), visibility="public")
    ).json()["id"]
    second = (
        await upload(server, owner, write_music(tmp_path / "b.wav", 0.6), visibility="public")
    ).json()["id"]
    url = "/api/v1/tracks/{}"
    assert (await server.client.delete(url.format(first), headers=bearer(other))).status_code == 403
    assert (await server.client.delete(url.format(first), headers=bearer(owner))).status_code == 204
    mod = bearer(moderator["access_token"])
    assert (await server.client.delete(url.format(second), headers=mod)).status_code == 204
    for track_id in (first, second):
        assert (await server.client.get(url.format(track_id), headers=mod)).status_code == 404
        assert not server.services.tracks.media.track_dir(track_id).exists()
    assert (await server.client.delete(url.format(first), headers=bearer(owner))).status_code == 404


async def test_a_track_deleted_while_transcoding_stops_and_leaves_nothing(
    server: RunningServer, tmp_path: Path
) -> None:
    require_tool("ffmpeg")
    token = (await register(server.client, "heidi"))["access_token"]
    track_id = (await upload(server, token, write_music(tmp_path / "long.wav", 40))).json()["id"]

    async with server.services.events.subscribe(track_topic(track_id)) as events:
        with trio.fail_after(60):
            async for delivery in events:  # a progress report: the transcode is under way
                if isinstance(delivery.event, TrackProgress) and delivery.event.fraction > 0:
                    break
    job = await server.store.jobs.latest_for(track_id)
    assert job is not None and job.status == "running" and 0 < job.progress < 1
    deleted = await server.client.delete(f"/api/v1/tracks/{track_id}", headers=bearer(token))
    assert deleted.status_code == 204
    # The delete waited for the transcode to stop before removing the folder: nothing is left.
    assert not server.services.tracks.media.track_dir(track_id).exists()
    assert await server.store.jobs.latest_for(track_id) is None


async def test_a_damaged_track_fails_with_its_reason(server: RunningServer, tmp_path: Path) -> None:
    token = (await register(server.client, "ivan"))["access_token"]
    damaged = write_damaged_flac(tmp_path / "song.flac")
    track_id = (await upload(server, token, damaged)).json()["id"]
    track = await wait_until_settled(server, token, track_id)
    assert track["status"] == "failed" and track["error"]
    stream = await server.client.get(f"/api/v1/tracks/{track_id}/stream", headers=bearer(token))
    assert stream.status_code == 409


def test_soundfile_reads_what_the_helper_writes(tmp_path: Path) -> None:
    info = sf.info(write_music(tmp_path / "a.wav", 0.5))
    assert (info.format, info.subtype, info.samplerate, info.channels, info.frames) == (
        "WAV",
        "PCM_16",
        44100,
        2,
        22050,
    )
