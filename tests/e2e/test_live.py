"""A track plays in the web client while it is still being transcoded: the client reads the
EVENT playlist as it grows."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.browser import client_page
from tests.players.tracks import import_music, listener
from tests.support.server import RunningServer

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("chromium", "ffmpeg")]

SECONDS = 240  # long enough that its transcode is still running when playback has begun


async def test_a_track_plays_while_it_is_transcoded(server: RunningServer, tmp_path: Path) -> None:
    await listener(server, "ada")
    async with client_page(server.url + "/signin") as client:
        await client.sign_in("ada")
        who = await listener(server, "bob")
        track_id = await import_music(server, tmp_path, who, SECONDS)
        await client.do(lambda page: page.goto(f"{server.url}/tracks/{track_id}"))
        await client.do(
            lambda page: page.locator("main").get_by_role("button", name="Play", exact=True).click()
        )
        await client.until("() => document.getElementById('audio').currentTime > 2")
        stats = await client.js("() => window.vezaDebug.engine")
        # The media playlist had no ENDLIST when the player read it: the transcode was running.
        assert stats["live"] is True, stats
        assert stats["mode"] == "mse"
        # Until every rendition has a segment, /stream answers 409 and the client asks again
        # (the browser logs each of those answers).
        while any("status of 409" in error for error in client.errors):
            client.expect_error("status of 409")
        client.assert_clean()
