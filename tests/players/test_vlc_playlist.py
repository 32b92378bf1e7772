"""VLC plays a playlist export (GET /api/v1/playlists/{id}/export.m3u8) as it is: an extended
M3U of signed HLS URLs, saved to a file and handed to VLC, every entry to its end."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.players.tracks import import_music, listener
from tests.players.vlc import play_to_the_end
from tests.support.accounts import bearer
from tests.support.server import RunningServer
from tests.support.tracks import wait_for_track

SECONDS = (8, 6)


@pytest.mark.slow
@pytest.mark.usefixtures("ffmpeg")
async def test_vlc_plays_an_exported_playlist_to_its_end(
    server: RunningServer, tmp_path: Path, vlc: list[str], vlc_home: str
) -> None:
    who = await listener(server)
    tracks = [await import_music(server, tmp_path, who, seconds) for seconds in SECONDS]
    for track_id in tracks:
        assert (await wait_for_track(server, track_id)).status == "ready"
    headers = bearer(who.token)
    created = await server.client.post(
        "/api/v1/playlists", json={"name": "For VLC"}, headers=headers
    )
    playlist_id = created.json()["id"]
    added = await server.client.post(
        f"/api/v1/playlists/{playlist_id}/entries/batch",
        json={"track_ids": tracks},
        headers=headers,
    )
    assert added.status_code == 201, added.text
    export = await server.client.get(
        f"/api/v1/playlists/{playlist_id}/export.m3u8", headers=headers
    )
    assert export.status_code == 200, export.text
    assert export.text.count("#EXTINF:") == len(SECONDS)
    saved = Path(vlc_home) / "export.m3u8"
    saved.write_bytes(export.content)
    saved.chmod(0o644)
    output = await play_to_the_end(vlc, vlc_home, str(saved), sum(SECONDS), at_least=0.8)
    # Each entry was opened as HLS (VLC's adaptive demuxer found its packed AAC).
    assert output.count("adaptive demux: Changing stream format") == len(SECONDS), output
