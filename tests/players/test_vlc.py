"""VLC (Debian's package) plays Veza's master playlist to its end, with no demux error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.players.tracks import import_music, listener, stream_url
from tests.players.vlc import play_to_the_end
from tests.support.server import RunningServer
from tests.support.tracks import wait_for_track

SECONDS = 30


@pytest.mark.slow
@pytest.mark.usefixtures("ffmpeg")
async def test_vlc_plays_the_master_to_its_end_without_errors(
    server: RunningServer, tmp_path: Path, vlc: list[str], vlc_home: str
) -> None:
    who = await listener(server)
    track_id = await import_music(server, tmp_path, who, SECONDS)
    assert (await wait_for_track(server, track_id)).status == "ready"
    url = await stream_url(server, who, track_id)
    await play_to_the_end(vlc, vlc_home, url, SECONDS)
