"""Plays and likes in the web client: a playback reported as one listen that counts as a play,
a like kept across reloads, and the listener's own stats page."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.browser import client_page
from tests.players.tracks import import_music, listener
from tests.support.server import RunningServer
from tests.support.tracks import wait_for_track

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("chromium", "ffmpeg")]

COUNTS = "(document.getElementById('counts')?.textContent ?? '')"


async def test_a_play_and_a_like_and_my_stats(server: RunningServer, tmp_path: Path) -> None:
    who = await listener(server, "ada")
    track_id = await import_music(server, tmp_path, who, 12)
    assert (await wait_for_track(server, track_id)).status == "ready"
    async with client_page(f"{server.url}/signin") as client:
        await client.sign_in("ada")
        await client.do(lambda page: page.goto(f"{server.url}/tracks/{track_id}"))
        await client.until(f"() => {COUNTS}.startsWith('0 plays')")

        # Liked: the button says so, the count moves, and a reload still shows it.
        await client.do(lambda page: page.get_by_role("button", name="Like").click())
        await client.until("() => document.getElementById('like').ariaPressed === 'true'")
        assert "1 like" in await client.js(f"() => {COUNTS}")

        # Half of the track played, then paused: one play.
        await client.do(
            lambda page: page.locator("main").get_by_role("button", name="Play", exact=True).click()
        )
        await client.until("() => document.getElementById('audio').currentTime > 6.5")
        await client.do(lambda page: page.locator("#player #play").click())
        await client.until(f"() => {COUNTS}.startsWith('1 play ·')")
        await client.do(lambda page: page.reload())
        await client.until("() => document.getElementById('like')?.ariaPressed === 'true'")
        assert (await client.js(f"() => {COUNTS}")).startswith("1 play · 1 listener · 1 like")

        await client.do(lambda page: page.get_by_role("link", name="Stats").click())
        await client.until("() => document.getElementById('summary')")
        summary = await client.js("() => document.getElementById('summary').textContent")
        assert summary.startswith("1 play, 0:"), summary
        ranked = await client.js("() => document.querySelector('.ranking a').getAttribute('href')")
        assert ranked == f"tracks/{track_id}"
        client.assert_clean()
