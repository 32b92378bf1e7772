"""HLS delivery over HTTP: signed playlists and segments, refusals, and a real player."""

from __future__ import annotations

import time
from pathlib import Path

import m3u8
import pytest
import trio

from tests.support import require_tool
from tests.support.server import RunningServer
from tests.support.tracks import wait_for_track, write_music
from veza.tracks.playback import sign


@pytest.fixture
async def ready_track(server: RunningServer, tmp_path: Path) -> str:
    require_tool("ffmpeg")
    track = await server.services.tracks.import_file(write_music(tmp_path / "a.wav", 7))
    assert (await wait_for_track(server, track.id)).status == "ready"
    return track.id


def token_for(server: RunningServer, track_id: str) -> str:
    return sign(server.secret, track_id, int(time.time()) + 600)


@pytest.mark.slow
async def test_playlists_and_segments_are_served_with_the_token(
    server: RunningServer, ready_track: str
) -> None:
    token = token_for(server, ready_track)
    master = await server.client.get(f"/hls/{ready_track}/1/master.m3u8", params={"token": token})
    assert master.status_code == 200
    assert master.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    uris = [line for line in master.text.splitlines() if line and not line.startswith("#")]
    assert len(uris) == 3 and all(uri.endswith(f"?token={token}") for uri in uris)
    media = await server.client.get(f"/hls/{ready_track}/1/{uris[0]}")
    assert "#EXT-X-ENDLIST" in media.text
    first = next(line for line in media.text.splitlines() if line and not line.startswith("#"))
    segment = await server.client.get(f"/hls/{ready_track}/1/{uris[0].split('/')[0]}/{first}")
    assert segment.status_code == 200
    assert segment.content.startswith(b"ID3")
    assert segment.headers["content-type"] in ("audio/mpeg", "audio/aac")


@pytest.mark.slow
async def test_requests_without_a_valid_token_are_refused(
    server: RunningServer, ready_track: str
) -> None:
    other = sign(server.secret, "f" * 24, int(time.time()) + 600)
    for params in ({}, {"token": "nonsense"}, {"token": other}):
        response = await server.client.get(f"/hls/{ready_track}/1/master.m3u8", params=params)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
    token = {"token": token_for(server, ready_track)}
    first = (await server.services.tracks.get(ready_track)).renditions[0]
    rendition, extension = first["name"], first["codec"]
    for path in (
        f"/hls/{ready_track}/1/../secret.key",
        f"/hls/{ready_track}/1/nope/index.m3u8",
        f"/hls/{ready_track}/1/{rendition}/99.{extension}",
        f"/hls/{ready_track}/1/{rendition}/0.wav",
        f"/hls/{ready_track}/1/{rendition}/\u0660.{extension}",
        f"/hls/{ready_track}/1/waveform.json/index.m3u8",
        f"/hls/{ready_track}/1/waveform.json",
        f"/hls/{ready_track}/1/index.m3u8",
        f"/hls/{ready_track}/2/master.m3u8",  # a generation that does not exist
        f"/hls/{ready_track}/0/master.m3u8",
        f"/hls/{ready_track}/x/master.m3u8",
        "/hls/not-a-track/1/master.m3u8",
    ):
        response = await server.client.get(path, params=token)
        assert response.status_code == 404, path


@pytest.mark.slow
async def test_ffmpeg_plays_the_master_playlist_over_http(
    server: RunningServer, ready_track: str
) -> None:
    token = token_for(server, ready_track)
    url = f"{server.url}/hls/{ready_track}/1/master.m3u8?token={token}"
    hls = server.services.tracks.media.hls_dir(ready_track, 1)
    master = m3u8.load(str(hls / "master.m3u8"))
    for number, variant in enumerate(master.playlists):
        result = await trio.run_process(
            ["ffmpeg", "-v", "error", "-i", url, "-map", f"0:a:{number}", "-f", "s16le", "-"],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr.decode()
        # Every sample of every segment arrives: the decoded length is the playlist's.
        media = m3u8.load(str(hls / variant.uri))
        expected = round(sum(segment.duration for segment in media.segments) * 44100)
        assert len(result.stdout) // 4 == expected, variant.uri
