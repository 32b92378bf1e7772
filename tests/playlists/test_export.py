"""The export: an extended M3U of absolute, signed HLS URLs that stay valid for
export_token_ttl_seconds (said in the file), without the entries that cannot be played."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support import require_tool
from tests.support.playlists import account, add, create_playlist, ready_track
from tests.support.server import RunningServer
from tests.support.tracks import wait_for_track, write_music


@pytest.fixture
def ffmpeg() -> str:
    return require_tool("ffmpeg")


@pytest.mark.slow
@pytest.mark.usefixtures("ffmpeg")
async def test_the_export_lists_signed_urls_valid_for_the_export_lifetime(
    server: RunningServer, tmp_path: Path
) -> None:
    alice = await account(server, "alice")
    bob = await account(server, "bob")
    music = write_music(tmp_path / "Tune.wav", 2)
    track = await server.services.tracks.import_file(music, owner_id=alice.user_id)
    assert (await wait_for_track(server, track.id)).status == "ready"
    shared = await server.client.patch(
        f"/api/v1/tracks/{track.id}", json={"visibility": "public"}, headers=alice.headers
    )
    assert shared.status_code == 200, shared.text
    unplayable = await ready_track(server, alice, "no files behind it")
    playlist_id = (await create_playlist(server.client, alice, "Trip / Ünïcode", "unlisted"))["id"]
    await add(server.client, alice, playlist_id, [track.id, unplayable, track.id])

    response = await server.client.get(
        f"/api/v1/playlists/{playlist_id}/export.m3u8",
        headers={**bob.headers, "Host": "music.example:8443"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("audio/x-mpegurl")
    assert response.headers["cache-control"] == "private, no-store"
    lines = response.text.splitlines()
    assert lines[:2] == ["#EXTM3U", "#PLAYLIST:Trip / Ünïcode"]
    assert "export_token_ttl_seconds = 2592000" in lines[2]
    assert lines[3] == "# 1 entries left out: not playable (yet) or not available to you"
    urls = [line for line in lines if not line.startswith("#")]
    assert len(urls) == 2
    assert lines.count("#EXTINF:2,Tune") == 2
    for url in urls:
        match = re.fullmatch(
            rf"http://music\.example:8443/hls/{track.id}/1/master\.m3u8\?token=(\d+)\.\S+", url
        )
        assert match, url
        remaining = int(match.group(1)) - server.services.clock()
        assert 2592000 - 60 < remaining <= 2592000
    # The URL plays without any header of ours: the master, then a media playlist it names.
    path = urls[0].removeprefix("http://music.example:8443")
    master = await server.client.get(path)
    assert master.status_code == 200 and "#EXT-X-STREAM-INF" in master.text
