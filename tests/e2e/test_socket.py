"""The client's live connection: an upload's transcode followed through the socket's events
(the track is read over REST only at the start and the end), a socket closed under it
reconnects and authenticates again, and a connection down for a while is told in the header."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import trio

from tests.e2e.browser import client_page
from tests.support.server import RunningServer

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("chromium", "ffmpeg")]

ROW = "document.querySelector('li.upload')"
TRACK_READS = """() => performance.getEntriesByType('resource')
    .filter(e => /\\/api\\/v1\\/tracks\\/[0-9a-f]+$/.test(new URL(e.name).pathname)).length"""


async def test_an_upload_is_followed_on_the_socket(server: RunningServer, tmp_path: Path) -> None:
    # Long enough for several progress events (a 16-bit mono tone keeps the file small).
    wav = tmp_path / "Long tone.wav"
    t = np.arange(120 * 22050) / 22050
    sf.write(wav, (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 22050, "PCM_16")
    async with client_page(server.url + "/") as client:
        await client.sign_up("ada")
        await client.until("() => window.vezaLive.up")
        await client.do(lambda page: page.get_by_role("link", name="Upload").first.click())
        await client.do(lambda page: page.set_input_files("#files", [str(wav)]))
        await client.until(f"() => {ROW}?.dataset.status === 'ready'", limit_s=90)
        events = await client.js("() => window.vezaLive.stats.events")
        assert events >= 2, events  # track.progress..., track.ready
        # At the start (twice: before and once subscribed) and at the end; no poll.
        assert await client.js(TRACK_READS) <= 3

        # The socket closes under the client: it connects and authenticates again.
        await client.js("() => window.vezaLive.socket.close()")
        await client.until("() => window.vezaLive.stats.readies === 2 && window.vezaLive.up")
        client.assert_clean()


CONNECTION = "document.querySelector('.top .connection')"


async def test_a_connection_down_for_a_while_is_told_and_its_return_too(
    server: RunningServer,
) -> None:
    # The socket's network is cut by routing every new socket of the page to a "server" that
    # closes it at once (Playwright's WebSocket routing), then given back (the real server).
    outage = {"on": False}

    def route(ws: Any) -> None:
        if outage["on"]:
            ws.close(code=1011, reason="down")
        else:
            ws.connect_to_server()

    async with client_page(server.url + "/") as client:
        await client.do(lambda page: page.route_web_socket("**/ws", route))
        await client.sign_up("ada")
        await client.until("() => window.vezaLive.up")
        # A close followed by a quick reconnect says nothing, also once the 3 s have passed.
        await client.js("() => window.vezaLive.socket.close()")
        await client.until("() => window.vezaLive.stats.readies === 2")
        await trio.sleep(3.5)
        assert await client.js(f"() => {CONNECTION}.textContent") == ""

        outage["on"] = True
        await client.js("() => window.vezaLive.socket.close()")
        shown = await client.until(
            f"() => {CONNECTION}.getClientRects().length && {CONNECTION}.textContent"
        )
        assert "reconnecting" in shown
        assert await client.js("() => window.vezaLive.up") is False

        outage["on"] = False
        await client.until(
            f"() => window.vezaLive.up && !{CONNECTION}.getClientRects().length", limit_s=45
        )
        assert await client.js(f"() => {CONNECTION}.textContent") == ""
        client.assert_clean()
