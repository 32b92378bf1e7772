"""Screenshots of the web client's main pages at desktop and phone widths, for the README:
the real server on a fresh data dir with a few generated tracks, Debian's Chromium.

Run by `scripts/screenshots` (writes docs/screenshots/*.png)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import soundfile as sf
import trio

from tests.e2e.browser import Client, client_page
from tests.players.tracks import RATE, Listener, listener
from tests.support.accounts import bearer, fast_settings, register
from tests.support.server import RunningServer, serving
from tests.support.signals import music
from tests.support.tracks import wait_for_track
from veza.tracks import Tags

SIZES = {"desktop": (1280, 800), "phone": (360, 740)}
LIBRARY = [
    ("Slow river", "Ana Lima", "Night walks", 200),
    ("Glass bells", "Ana Lima", "Night walks", 150),
    ("Harbour lights", "The Quiet Hours", "Coastline", 240),
    ("Paper boats", "The Quiet Hours", "Coastline", 95),
]


async def shoot(client: Client, folder: Path, name: str, size: str) -> None:
    path = folder / f"{name}-{size}.png"
    await client.do(lambda page: page.screenshot(path=str(path)))
    print(path, file=sys.stderr)


async def pages(server: RunningServer, folder: Path, size: str) -> None:
    width, height = SIZES[size]
    async with client_page(server.url + "/", width=width, height=height) as client:
        await shoot(client, folder, "sign-in", size)
        await client.sign_in("ada")
        await client.do(lambda page: page.locator("li.track").first.wait_for())
        await client.do(lambda page: page.get_by_role("button", name="Play Slow river").click())
        await client.do(lambda page: page.evaluate("() => window.vezaDebug.player.seek(38)"))
        await client.until("() => document.getElementById('audio').currentTime > 40")
        await client.do(lambda page: page.locator("#play").click())  # pause
        await shoot(client, folder, "library", size)
        await client.do(lambda page: page.get_by_role("link", name="Slow river").first.click())
        await client.until("() => document.querySelector('canvas.waveform')?.dataset.position")
        await shoot(client, folder, "track", size)
        await client.do(lambda page: page.get_by_role("link", name="ada").click())
        await client.do(lambda page: page.locator(".sessions li").first.wait_for())
        await shoot(client, folder, "account", size)
        await client.do(lambda page: page.get_by_role("link", name="Chat").click())
        await client.do(lambda page: page.locator(".conversations a").first.click())
        await client.do(lambda page: page.locator("li.message").first.wait_for())
        await shoot(client, folder, "chat", size)


async def conversation(server: RunningServer, ana: Listener) -> None:
    """Ada, who listens, and Ana, who made the music, exchange a few words."""
    ada = await register(server.client, "ada")
    made = await server.client.post(
        "/api/v1/conversations",
        json={"kind": "direct", "member_ids": [ada["user"]["id"]]},
        headers=bearer(ana.token),
    )
    path = f"/api/v1/conversations/{made.json()['id']}/messages"
    for token, body in [
        (ana.token, "I put the new Night walks takes in the library."),
        (ada["access_token"], "Slow river is lovely. Is the harbour one finished?"),
        (ana.token, "Nearly: the mix is still a little dark."),
    ]:
        await server.client.post(path, json={"body": body}, headers=bearer(token))


async def main(folder: Path) -> None:
    await trio.Path(folder).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        async with serving(fast_settings(Path(tmp))) as server:
            who = await listener(server, "ana")
            for seed, (title, artist, album, seconds) in enumerate(LIBRARY):
                path = Path(tmp) / f"{seed}.wav"
                await trio.to_thread.run_sync(sf.write, path, music(seconds, seed=seed), RATE)
                track = await server.services.tracks.import_file(
                    path, owner_id=who.user_id, tags=Tags(title, artist, album)
                )
                await wait_for_track(server, track.id, limit_s=300)
            await conversation(server, who)
            for size in SIZES:
                await pages(server, folder, size)


if __name__ == "__main__":
    trio.run(main, Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshots"))
