"""HLS serving from memory, over real HTTP: what is kept (segments and finished playlists of
settled generations), what never is (playlists and files still being written), how a deleted
track stops at once and another process's change within `hls_check_ttl_seconds`; the fast path
answering exactly as the routes do; and the X-Accel-Redirect answer of offload mode."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trio
from quart import request

from tests.support import require_tool
from tests.support.accounts import bearer, fast_settings, register
from tests.support.server import RunningServer, serving
from tests.support.tracks import wait_for_track, write_music
from veza.config import Settings
from veza.tracks.playback import sign

ORIGIN = "https://app.example"


@dataclass(frozen=True)
class Played:
    """A ready track and the paths of one of its renditions, signed."""

    track_id: str
    generation: int
    rendition: str
    segments: list[str]
    token: str
    hls: Path  # the generation's folder

    def url(self, name: str, *, rendition: bool = True, generation: int | None = None) -> str:
        where = f"{self.rendition}/{name}" if rendition else name
        return f"/hls/{self.track_id}/{generation or self.generation}/{where}?token={self.token}"


async def ready_track(server: RunningServer, tmp_path: Path, owner_id: str | None = None) -> Played:
    require_tool("ffmpeg")
    source = write_music(tmp_path / "a.wav", 13)
    track = await server.services.tracks.import_file(source, owner_id=owner_id)
    ready = await wait_for_track(server, track.id)
    assert ready.status == "ready"
    rendition = ready.renditions[0]["name"]
    hls = server.services.tracks.media.hls_dir(track.id, ready.generation)
    playlist = (hls / rendition / "index.m3u8").read_text()
    segments = [line for line in playlist.splitlines() if line and not line.startswith("#")]
    token = sign(server.secret, track.id, int(time.time()) + 600)
    return Played(track.id, ready.generation, rendition, segments, token, hls)


async def get(
    client: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.get(url, headers=headers)


@pytest.mark.slow
async def test_segments_and_finished_playlists_are_served_from_memory(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path)
    async with serving(settings) as server:
        played = await ready_track(server, tmp_path)
        segment, media, master = (
            played.url(played.segments[1]),
            played.url("index.m3u8"),
            played.url("master.m3u8", rendition=False),
        )
        first = {url: await get(server.client, url) for url in (segment, media, master)}
        assert all(response.status_code == 200 for response in first.values())
        assert first[media].headers["cache-control"] == "private, max-age=3600"
        assert "immutable" in first[segment].headers["cache-control"]

        # Behind Veza's back, the files change: what was served is what is served again.
        (played.hls / played.rendition / played.segments[1]).write_bytes(b"ID3 changed")
        changed = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:1.0,\nchanged.aac\n#EXT-X-ENDLIST\n"
        (played.hls / played.rendition / "index.m3u8").write_text(changed)
        (played.hls / "master.m3u8").write_text(changed)
        for url, before in first.items():
            again = await get(server.client, url)
            assert again.status_code == 200
            assert again.content == before.content, url

    # With no memory for files (hls_cache_bytes = 0), the disk is read each time.
    async with serving(fast_settings(tmp_path, hls_cache_bytes=0)) as server:
        assert (await get(server.client, segment)).content == b"ID3 changed"
        (played.hls / played.rendition / played.segments[1]).write_bytes(b"ID3 again")
        assert (await get(server.client, segment)).content == b"ID3 again"
        assert "changed.aac?token=" in (await get(server.client, media)).text


@pytest.mark.slow
async def test_each_token_gets_its_own_signed_playlist_from_one_kept_copy(
    server: RunningServer, tmp_path: Path
) -> None:
    played = await ready_track(server, tmp_path)
    other = sign(server.secret, played.track_id, int(time.time()) + 900)
    mine = (await get(server.client, played.url("index.m3u8"))).text
    theirs = await get(server.client, played.url("index.m3u8").replace(played.token, other))
    assert theirs.status_code == 200
    uris = [line for line in theirs.text.splitlines() if line and not line.startswith("#")]
    assert uris == [f"{name}?token={other}" for name in played.segments]
    assert theirs.text == mine.replace(played.token, other)
    master = (await get(server.client, played.url("master.m3u8", rendition=False))).text
    assert all(
        line.endswith(f"/index.m3u8?token={played.token}")
        for line in master.splitlines()
        if line and not line.startswith("#")
    )


@pytest.mark.slow
async def test_a_deleted_track_stops_being_served_at_once(
    server: RunningServer, tmp_path: Path
) -> None:
    owner = await register(server.client, "ines")
    played = await ready_track(server, tmp_path, owner_id=owner["user"]["id"])
    urls = [
        played.url(played.segments[0]),
        played.url("index.m3u8"),
        played.url("master.m3u8", rendition=False),
    ]
    for url in urls:
        assert (await get(server.client, url)).status_code == 200  # now kept in memory
    deleted = await server.client.delete(
        f"/api/v1/tracks/{played.track_id}", headers=bearer(owner["access_token"])
    )
    assert deleted.status_code == 204
    for url in urls:
        response = await get(server.client, url)
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "not_found"


@pytest.mark.slow
async def test_a_change_made_by_another_process_is_seen_within_the_check_lifetime(
    tmp_path: Path,
) -> None:
    settings = fast_settings(tmp_path, hls_check_ttl_seconds=2)
    async with serving(settings) as server:
        played = await ready_track(server, tmp_path)
        url = played.url(played.segments[0])
        assert (await get(server.client, url)).status_code == 200
        # Another process deletes the row (the store here stands for the shared database):
        # this process was not told, and trusts what it checked for up to two seconds.
        started = trio.current_time()
        await server.store.tracks.delete(played.track_id)
        still = await get(server.client, url)
        if trio.current_time() - started < 1.5:  # a machine too busy to tell says nothing
            assert still.status_code == 200
        await trio.sleep_until(started + 2.2)
        assert (await get(server.client, url)).status_code == 404


@pytest.mark.slow
async def test_a_generation_being_written_is_found_at_once_and_never_kept(
    server: RunningServer, tmp_path: Path
) -> None:
    played = await ready_track(server, tmp_path)
    assert (await get(server.client, played.url("master.m3u8", rendition=False))).status_code == 200
    # A transcode of the next generation starts (in this process or another one): its row says
    # so, and it has written its first segment and the start of its playlist.
    building = played.generation + 1
    await server.store.tracks.start_generation(played.track_id, building, "aac:128")
    new = server.services.tracks.media.hls_dir(played.track_id, building)
    (new / "aac_128").mkdir(parents=True)
    shutil.copy(played.hls / "master.m3u8", new / "master.m3u8")
    source = played.hls / played.rendition / played.segments[0]
    shutil.copy(source, new / "aac_128" / "0.aac")
    head = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-PLAYLIST-TYPE:EVENT\n"
    (new / "aac_128" / "index.m3u8").write_text(head + "#EXTINF:6.0,\n0.aac\n")

    def url(name: str) -> str:
        return f"/hls/{played.track_id}/{building}/aac_128/{name}?token={played.token}"

    # Found although this process had the track's row in memory without that generation.
    media = await get(server.client, url("index.m3u8"))
    assert media.status_code == 200
    assert media.headers["cache-control"] == "no-cache"
    assert "#EXT-X-ENDLIST" not in media.text
    master = await get(
        server.client, f"/hls/{played.track_id}/{building}/master.m3u8?token={played.token}"
    )
    assert master.status_code == 200 and master.headers["cache-control"] == "no-cache"

    # The writer appends: the next request sees it.
    shutil.copy(source, new / "aac_128" / "1.aac")
    with (new / "aac_128" / "index.m3u8").open("a") as playlist:
        playlist.write("#EXTINF:6.0,\n1.aac\n#EXT-X-ENDLIST\n")
    grown = await get(server.client, url("index.m3u8"))
    assert f"1.aac?token={played.token}" in grown.text
    assert "#EXT-X-ENDLIST" in grown.text

    # A retried job starts the generation over: its segments are read from disk each time.
    assert (await get(server.client, url("0.aac"))).content == source.read_bytes()
    (new / "aac_128" / "0.aac").write_bytes(b"ID3 rewritten")
    assert (await get(server.client, url("0.aac"))).content == b"ID3 rewritten"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path, cors_origins=ORIGIN)


@pytest.mark.slow
async def test_the_fast_path_answers_exactly_as_the_routes_do(
    server: RunningServer, tmp_path: Path
) -> None:
    routed: list[str] = []

    @server.app.before_request
    async def note() -> None:  # runs only for requests the routes answer
        if request.path.startswith("/hls/"):
            routed.append(request.path)

    played = await ready_track(server, tmp_path)
    headers = {"Origin": ORIGIN, "X-Request-ID": "listener-7"}
    for url in (
        played.url(played.segments[0]),
        played.url("index.m3u8"),
        played.url("master.m3u8", rendition=False),
    ):
        fast = await get(server.client, url, headers=headers)
        assert routed == [], "the fast path left a plain request to the routes"
        slow = await get(server.client, url + "&via=route", headers=headers)  # not plain
        assert routed == [url.split("?")[0]]
        routed.clear()
        assert fast.status_code == slow.status_code == 200
        assert fast.content == slow.content
        assert fast.headers["x-request-id"] == "listener-7"
        assert fast.headers["access-control-allow-origin"] == ORIGIN
        same = {k: v for k, v in fast.headers.items() if k != "date"}
        assert same == {k: v for k, v in slow.headers.items() if k != "date"}

    # A refusal is the routes' own, in the error shape.
    bad = await get(server.client, played.url(played.segments[0]).replace(played.token, "1.x"))
    assert bad.status_code == 403 and bad.json()["error"]["code"] == "forbidden"
    assert routed == [played.url(played.segments[0]).split("?")[0]]

    # Both ways are counted under the route's template.
    metrics = (await server.client.get("/metrics")).text
    segment_route = "/hls/<track_id>/<int:generation>/<rendition>/<segment>"
    line = f'veza_http_requests_total{{method="GET",route="{segment_route}",status="200"}} 2.0'
    assert line in metrics


@pytest.mark.slow
async def test_offload_answers_with_the_internal_location_of_the_segment(tmp_path: Path) -> None:
    async with serving(fast_settings(tmp_path, offload="x-accel")) as server:
        played = await ready_track(server, tmp_path)
        name = played.segments[2]
        relative = (played.hls / played.rendition / name).relative_to(
            server.services.tracks.media.media_dir
        )
        assert relative.as_posix() == (
            f"{played.track_id}/hls/{played.generation}/{played.rendition}/{name}"
        )
        for url in (played.url(name), played.url(name) + "&via=route"):
            response = await get(server.client, url)
            assert response.status_code == 200
            assert response.content == b""
            assert response.headers["x-accel-redirect"] == f"/internal-media/{relative}"
            assert response.headers["content-type"] in ("audio/aac", "audio/mpeg")
            assert "immutable" in response.headers["cache-control"]
        # Refusals carry no redirect; playlists are still Veza's to send.
        refused = await get(server.client, played.url(name).replace(played.token, "1.x"))
        assert refused.status_code == 403 and "x-accel-redirect" not in refused.headers
        missing = await get(server.client, played.url(name).replace(played.rendition, "aac_1"))
        assert missing.status_code == 404 and "x-accel-redirect" not in missing.headers
        media = await get(server.client, played.url("index.m3u8"))
        assert media.status_code == 200 and played.segments[0] in media.text
