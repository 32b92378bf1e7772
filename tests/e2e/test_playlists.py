"""Playlists in two browsers: one made and filled from the library, shared with an editor; a
reorder from the keyboard in one browser and by dragging in the other, each seen live in the
other (`playlist.changed` on the socket)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.browser import Client, client_page
from tests.players.tracks import import_music, listener
from tests.support import eventually
from tests.support.accounts import bearer, register
from tests.support.server import RunningServer
from tests.support.tracks import wait_for_track

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("chromium", "ffmpeg")]

ORDER = "() => [...document.querySelectorAll('ol.entries li')].map(e => e.dataset.id).join()"


async def order(client: Client) -> list[str]:
    return str(await client.js(ORDER)).split(",")


async def test_a_playlist_reordered_in_one_browser_changes_in_the_other(
    server: RunningServer, tmp_path: Path
) -> None:
    ada = await listener(server, "ada")
    await register(server.client, "bob")
    for seconds in (3, 4, 5):
        track_id = await import_music(server, tmp_path, ada, seconds)
        assert (await wait_for_track(server, track_id)).status == "ready"
    async with (
        client_page(f"{server.url}/signin") as one,
        client_page(f"{server.url}/signin") as two,
    ):
        await one.sign_in("ada")
        await two.sign_in("bob")

        def make(page) -> str:  # type: ignore[no-untyped-def]
            page.get_by_role("link", name="Playlists").click()
            page.get_by_label("Name", exact=True).fill("Road trip")
            page.get_by_role("button", name="Create").click()
            page.get_by_role("heading", name="Road trip").wait_for()
            page.get_by_label("Search tracks to add").fill("music")
            page.locator(".found button").nth(2).wait_for()
            for n in range(3):
                page.locator(".found button").nth(n).click()
                page.locator("ol.entries li").nth(n).wait_for()
            page.get_by_label("Username").fill("bob")
            page.get_by_role("button", name="Share").click()
            page.locator(".collaborators li", has_text="bob").wait_for()
            return str(page.url)

        address = await one.do(make)
        await two.do(lambda page: page.goto(address))
        await two.do(lambda page: page.locator("ol.entries li").nth(2).wait_for())
        first, second, third = await order(one)
        assert await order(two) == [first, second, third]

        # Ada moves the first to the end from the keyboard: Bob sees it.
        await one.do(lambda page: page.locator("ol.entries .move").first.press("End"))
        await one.until(f"() => ({ORDER})() === '{second},{third},{first}'")
        await two.until(f"() => ({ORDER})() === '{second},{third},{first}'")

        # Bob drags the last to the top: Ada sees it.
        await two.do(
            lambda page: (
                page.locator("ol.entries li").nth(2).drag_to(page.locator("ol.entries li").first)
            )
        )
        await two.until(f"() => ({ORDER})() === '{first},{second},{third}'")
        await one.until(f"() => ({ORDER})() === '{first},{second},{third}'")
        one.assert_clean()
        two.assert_clean()


async def test_the_queue_follows_the_account_to_another_device(
    server: RunningServer, tmp_path: Path
) -> None:
    ada = await listener(server, "ada")
    ids = [await import_music(server, tmp_path, ada, seconds) for seconds in (6, 7)]
    for track_id in ids:
        assert (await wait_for_track(server, track_id)).status == "ready"
    async with client_page(f"{server.url}/signin") as laptop:
        await laptop.sign_in("ada")
        await laptop.do(lambda page: page.locator("li.track").nth(1).wait_for())
        await laptop.do(lambda page: page.locator("li.track button.play").nth(1).click())
        await laptop.until("() => document.getElementById('audio').currentTime > 2")
        await laptop.do(lambda page: page.locator("#player #play").click())  # pause: saved

        async def saved() -> bool:
            response = await server.client.get("/api/v1/me/queue", headers=bearer(ada.token))
            queue = response.json()
            return bool(queue["current_track_id"] == ids[0] and queue["position_s"] >= 2)

        await eventually(saved, limit_s=10)
    async with client_page(f"{server.url}/signin") as phone:
        await phone.sign_in("ada")
        # The other device shows the same track, cued where it stopped, and plays on from there.
        await phone.until("() => window.vezaDebug.player.current()?.id", limit_s=10)
        assert await phone.js("() => window.vezaDebug.player.current().id") == ids[0]
        assert await phone.js("() => document.getElementById('audio').paused")
        await phone.do(lambda page: page.locator("#player #play").click())
        await phone.until("() => window.vezaDebug.player.position() > 2.5")
        phone.assert_clean()
        laptop.assert_clean()
