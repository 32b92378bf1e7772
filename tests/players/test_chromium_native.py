"""Chromium's own HLS player (no hls.js, no MSE of ours): `<audio src=master.m3u8>` on a page
of another origin plays Veza's AAC master."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.players.browser import chromium_page
from tests.players.tracks import import_music, listener, stream_url
from tests.support.server import RunningServer
from tests.support.tracks import wait_for_track


@pytest.mark.slow
@pytest.mark.usefixtures("ffmpeg", "chromium")
async def test_chromium_plays_the_aac_master_natively(
    server: RunningServer, site: str, tmp_path: Path
) -> None:
    who = await listener(server)
    track_id = await import_music(server, tmp_path, who, 20)
    async with chromium_page(site + "/") as page:
        assert (await wait_for_track(server, track_id)).status == "ready"
        url = await stream_url(server, who, track_id)
        await page.evaluate("url => startNative(url)", url)
        await page.wait_for("() => audio.currentTime > 4 || window.__errors.length > 0")
        report = await page.evaluate("report")
        context = f"{report}\n" + "\n".join(page.log[-20:])
        assert report["player"] == "native", context
        assert report["errors"] == [], context
        assert report["currentTime"] > 4, context
        assert report["duration"] > 19, context
