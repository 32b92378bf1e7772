"""HLS delivery: signed tokens, playlists that carry them, and real players reading over HTTP."""

from __future__ import annotations

import time
from pathlib import Path

import m3u8
import pytest
import trio

from tests.conftest import RunningServer
from tests.library.test_transcode_jobs import wait_for_track, write_music
from tests.support import require_tool
from veza.errors import Forbidden
from veza.transport.hls import sign, verify, with_token

SECRET = "s" * 40
TRACK = "0123456789abcdef01234567"


def test_a_signed_token_is_accepted_until_it_expires() -> None:
    token = sign(SECRET, TRACK, expires=1_000)
    verify(SECRET, TRACK, token, now=999)
    with pytest.raises(Forbidden, match="expired"):
        verify(SECRET, TRACK, token, now=1_001)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "1000.",
        sign(SECRET, "f" * 24, 1_000),  # another track
        sign("t" * 40, TRACK, 1_000),  # another key
        "2000." + sign(SECRET, TRACK, 1_000).split(".")[1],  # expiry pushed out
        "\u00b2.x",  # a superscript two: str.isdigit() says yes, int() says no
        "\u0661\u0660\u0660\u0660." + sign(SECRET, TRACK, 1_000).split(".")[1],  # Arabic-Indic
    ],
)
def test_a_forged_or_foreign_token_is_refused(token: str) -> None:
    with pytest.raises(Forbidden):
        verify(SECRET, TRACK, token, now=500)


def test_every_uri_of_a_playlist_carries_the_token() -> None:
    media = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.0,\n0.mp3\n#EXTINF:2.0,\n1.mp3\n"
    uris = [line for line in with_token(media, "T").splitlines() if not line.startswith("#")]
    assert uris == ["0.mp3?token=T", "1.mp3?token=T"]
    master = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="mp4a.40.2"\naac_128/index.m3u8\n'
    assert with_token(master, "T").splitlines()[-1] == "aac_128/index.m3u8?token=T"


@pytest.fixture
async def ready_track(server: RunningServer, tmp_path: Path) -> str:
    require_tool("ffmpeg")
    track = await server.services.library.import_file(write_music(tmp_path / "a.wav", 7))
    assert (await wait_for_track(server, track.id)).status == "ready"
    return track.id


def token_for(server: RunningServer, track_id: str) -> str:
    return sign(server.services.secret, track_id, int(time.time()) + 600)


async def test_playlists_and_segments_are_served_with_the_token(
    server: RunningServer, ready_track: str
) -> None:
    token = token_for(server, ready_track)
    master = await server.client.get(f"/hls/{ready_track}/master.m3u8", params={"token": token})
    assert master.status_code == 200
    assert master.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    uris = [line for line in master.text.splitlines() if line and not line.startswith("#")]
    assert len(uris) == 3 and all(uri.endswith(f"?token={token}") for uri in uris)
    media = await server.client.get(f"/hls/{ready_track}/{uris[0]}")
    assert "#EXT-X-ENDLIST" in media.text
    first = next(line for line in media.text.splitlines() if line and not line.startswith("#"))
    segment = await server.client.get(f"/hls/{ready_track}/{uris[0].split('/')[0]}/{first}")
    assert segment.status_code == 200
    assert segment.content.startswith(b"ID3")
    assert segment.headers["content-type"] in ("audio/mpeg", "audio/aac")


async def test_requests_without_a_valid_token_are_refused(
    server: RunningServer, ready_track: str
) -> None:
    other = sign(server.services.secret, "f" * 24, int(time.time()) + 600)
    for params in ({}, {"token": "nonsense"}, {"token": other}):
        response = await server.client.get(f"/hls/{ready_track}/master.m3u8", params=params)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
    token = {"token": token_for(server, ready_track)}
    for path in (
        f"/hls/{ready_track}/../secret.key",
        f"/hls/{ready_track}/nope/index.m3u8",
        f"/hls/{ready_track}/mp3_128/99.mp3",
        f"/hls/{ready_track}/mp3_128/0.wav",
        f"/hls/{ready_track}/mp3_128/\u0660.mp3",
        f"/hls/{ready_track}/waveform.json/index.m3u8",
        "/hls/not-a-track/master.m3u8",
    ):
        response = await server.client.get(path, params=token)
        assert response.status_code == 404, path


async def test_ffmpeg_plays_the_master_playlist_over_http(
    server: RunningServer, ready_track: str
) -> None:
    token = token_for(server, ready_track)
    url = f"{server.url}/hls/{ready_track}/master.m3u8?token={token}"
    hls = server.services.library.hls_dir(ready_track)
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
