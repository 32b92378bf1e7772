"""Screenshots of the web client's main pages at desktop and phone widths, for the README:
the real server on a fresh data dir with a few generated tracks, Debian's Chromium.

Run by `scripts/screenshots` (writes docs/screenshots/*.png)."""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import trio
from PIL import Image

from tests.e2e.browser import Client, client_page
from tests.players.tracks import RATE, Listener, listener
from tests.support.accounts import bearer, fast_settings, register
from tests.support.server import RunningServer, serving
from tests.support.signals import music
from tests.support.tracks import wait_for_track
from veza.store.tracks import Track
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
        await client.do(lambda page: page.get_by_role("link", name="Chat").click())
        await client.do(lambda page: page.locator(".conversations a", has_text=GROUP).click())
        await client.do(lambda page: page.locator("li.message").first.wait_for())
        await client.do(lambda page: page.get_by_role("button", name="Members").click())
        await client.until("() => document.querySelectorAll('.member-list li').length === 3")
        await shoot(client, folder, "group", size)
        await client.do(lambda page: page.get_by_role("link", name="Library").first.click())
        await client.do(lambda page: page.get_by_role("link", name="Albums").first.click())
        await client.until(
            "() => [...document.querySelectorAll('.album-card img')].filter(i => i.naturalWidth)"
            ".length === 2"
        )
        await shoot(client, folder, "albums", size)
        await client.do(lambda page: page.get_by_role("link", name="Playlists").first.click())
        await client.do(lambda page: page.get_by_role("link", name="Evening").click())
        await client.do(lambda page: page.locator("ol.entries li").nth(3).wait_for())
        await client.until("() => document.querySelector('.playlist-cover img')?.naturalWidth > 0")
        await shoot(client, folder, "playlist", size)


async def covers(server: RunningServer, ana: Listener, tracks: list[Track]) -> None:
    """A cover for each album: a soft gradient of its own colour."""
    for n, album_id in enumerate(dict.fromkeys(track.album_id for track in tracks)):
        ramp = np.linspace(0, 1, 512)[None, :, None]
        base = np.array([(40, 90, 160), (170, 90, 60)][n % 2])[None, None, :]
        pixels = (base * (0.5 + 0.5 * ramp) + 60 * ramp.transpose(1, 0, 2)).clip(0, 255)
        image = io.BytesIO()
        Image.fromarray(pixels.astype(np.uint8)).save(image, "PNG")
        put = await server.client.put(
            f"/api/v1/albums/{album_id}/cover",
            content=image.getvalue(),
            headers={**bearer(ana.token), "Content-Type": "image/png"},
        )
        assert put.is_success, put.text


async def playlist(server: RunningServer, ada: dict[str, Any], tracks: list[Track]) -> None:
    made = await server.client.post(
        "/api/v1/playlists", json={"name": "Evening"}, headers=bearer(ada["access_token"])
    )
    await server.client.post(
        f"/api/v1/playlists/{made.json()['id']}/entries/batch",
        json={"track_ids": [track.id for track in reversed(tracks)]},
        headers=bearer(ada["access_token"]),
    )


async def conversation(server: RunningServer, ana: Listener) -> dict[str, Any]:
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
    return ada


GROUP = "Night walks crew"


async def group(server: RunningServer, ana: Listener, ada: dict[str, Any]) -> None:
    """A group of three that Ana made: its members panel is shown open."""
    cleo = await register(server.client, "cleo")
    made = await server.client.post(
        "/api/v1/conversations",
        json={
            "kind": "group",
            "title": GROUP,
            "member_ids": [ada["user"]["id"], cleo["user"]["id"]],
        },
        headers=bearer(ana.token),
    )
    assert made.status_code == 201, made.text
    path = f"/api/v1/conversations/{made.json()['id']}/messages"
    for token, body in [
        (ana.token, "Rehearsal on Thursday? I'd like to try Glass bells live."),
        (cleo["access_token"], "Thursday works. I'll bring the second keyboard."),
        (ada["access_token"], "I'll be there to listen."),
    ]:
        await server.client.post(path, json={"body": body}, headers=bearer(token))


async def main(folder: Path) -> None:
    await trio.Path(folder).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        async with serving(fast_settings(Path(tmp))) as server:
            who = await listener(server, "ana")
            tracks = []
            for seed, (title, artist, album, seconds) in enumerate(LIBRARY):
                path = Path(tmp) / f"{seed}.wav"
                await trio.to_thread.run_sync(sf.write, path, music(seconds, seed=seed), RATE)
                track = await server.services.tracks.import_file(
                    path, owner_id=who.user_id, tags=Tags(title, artist, album), visibility="public"
                )
                await wait_for_track(server, track.id, limit_s=300)
                tracks.append(track)
            await covers(server, who, tracks)
            ada = await conversation(server, who)
            await group(server, who, ada)
            await playlist(server, ada, tracks)
            for size in SIZES:
                await pages(server, folder, size)


if __name__ == "__main__":
    trio.run(main, Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshots"))
