"""A playlist's owner at work in one browser, a collaborator watching in another: details
renamed and described, the collaborator's role changed, a cover uploaded (and a file that is no
image refused in words) and removed, the playlist handed over, the old owner removed by the new
one, and the playlist deleted after a confirmation. Each change is seen live in the other
browser. And an M3U imported, with what matched and what did not said in words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser import client_page
from tests.players.tracks import import_music, listener
from tests.support.accounts import bearer
from tests.support.server import RunningServer
from tests.support.tagged import png
from tests.support.tracks import wait_for_track

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("chromium")]

ABOUT = "#playlist-about"


async def test_the_owner_changes_everything_and_the_collaborator_sees_it_live(
    server: RunningServer, tmp_path: Path
) -> None:
    ada = await listener(server, "ada")
    bob = await listener(server, "bob")
    made = await server.client.post(
        "/api/v1/playlists", json={"name": "Mix"}, headers=bearer(ada.token)
    )
    playlist_id = made.json()["id"]
    shared = await server.client.post(
        f"/api/v1/playlists/{playlist_id}/collaborators",
        json={"user_id": bob.user_id, "role": "editor"},
        headers=bearer(ada.token),
    )
    assert shared.status_code == 201, shared.text
    address = f"{server.url}/playlists/{playlist_id}"
    cover = tmp_path / "cover.png"
    cover.write_bytes(png(300, 300, (200, 40, 90)))
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("these are words, not pixels")

    async with (
        client_page(f"{server.url}/signin") as one,
        client_page(f"{server.url}/signin") as two,
    ):
        await one.sign_in("ada")
        await two.sign_in("bob")
        for client in (one, two):
            await client.do(lambda page: page.goto(address))
            await client.do(lambda page: page.get_by_role("heading", name="Mix").wait_for())
        assert await two.js("() => document.querySelector('.owner').hidden")

        # Renamed and described in one browser, seen in the other.
        def rename(page: Any) -> None:
            page.get_by_label("Name", exact=True).fill("Night drive")
            page.get_by_label("Description").fill("Slow songs for the motorway")
            page.get_by_role("button", name="Save the details").click()
            page.get_by_role("heading", name="Night drive").wait_for()

        await one.do(rename)
        await two.do(lambda page: page.get_by_role("heading", name="Night drive").wait_for())
        await two.do(
            lambda page: page.locator("#playlist-description", has_text="motorway").wait_for()
        )

        # Bob becomes a viewer: his page stops offering to add tracks.
        await one.do(lambda page: page.get_by_label("Role of bob").select_option("viewer"))
        await two.do(lambda page: page.locator(ABOUT, has_text="you are its viewer").wait_for())
        assert await two.js("() => document.querySelector('[aria-labelledby=add-title]').hidden")

        # A file that is no image is refused, in words; a cover is shown in both browsers, and
        # only an uploaded one may be removed.
        remove_cover = "Remove the cover"
        await one.do(
            lambda page: page.get_by_role("button", name=remove_cover).wait_for(state="hidden")
        )
        await one.do(
            lambda page: page.get_by_label("Upload a cover image").set_input_files(not_an_image)
        )
        await one.do(lambda page: page.locator(".toast.error").wait_for())
        message = await one.js("() => document.querySelector('.toast.error span').textContent")
        assert "image" in message, message
        one.expect_error("415")
        await one.do(lambda page: page.locator(".toast.error button").click())
        await one.do(lambda page: page.get_by_label("Upload a cover image").set_input_files(cover))
        for client in (one, two):
            await client.until(
                "() => document.querySelector('.playlist-cover img')?.src.startsWith('blob:')"
            )
        await one.do(lambda page: page.get_by_role("button", name="Remove the cover").click())
        await two.until("() => !document.querySelector('.playlist-cover img')")
        # Nothing uploaded any more: nothing to remove.
        await one.do(
            lambda page: page.get_by_role("button", name="Remove the cover").wait_for(
                state="hidden"
            )
        )

        # Handed over to Bob (asked first): he gets the settings, Ada becomes an editor.
        def hand_over(page: Any) -> None:
            page.get_by_label("New owner").fill("bob")
            page.get_by_role("button", name="Hand over").click()
            page.get_by_role("dialog").get_by_role("button", name="Hand over").click()
            page.locator(ABOUT, has_text="you are its editor").wait_for()

        await one.do(hand_over)
        await two.do(lambda page: page.get_by_role("heading", name="Settings").wait_for())
        assert await one.js("() => document.querySelector('.owner').hidden")

        # Bob removes Ada: her page says she lost it.
        await two.do(lambda page: page.get_by_role("button", name="Stop sharing with ada").click())
        await one.do(
            lambda page: page.get_by_text("This playlist is no longer available to you").wait_for()
        )
        one.expect_error("404")

        # Bob deletes it: Cancel keeps it, Delete removes it.
        def delete(page: Any) -> None:
            page.get_by_role("button", name="Delete this playlist").click()
            page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
            page.get_by_role("button", name="Delete this playlist").click()
            page.get_by_role("dialog").get_by_role("button", name="Delete").click()
            page.get_by_role("heading", name="Playlists").wait_for()

        await two.do(delete)
        one.assert_clean()
        two.assert_clean()
    gone = await server.client.get(f"/api/v1/playlists/{playlist_id}", headers=bearer(bob.token))
    assert gone.status_code == 404


@pytest.mark.usefixtures("ffmpeg")
async def test_an_import_says_what_matched_and_what_did_not(
    server: RunningServer, tmp_path: Path
) -> None:
    ada = await listener(server, "ada")
    track_id = await import_music(server, tmp_path, ada, 3)
    assert (await wait_for_track(server, track_id)).status == "ready"
    m3u = tmp_path / "trip.m3u"
    m3u.write_text(
        "#EXTM3U\n#EXTINF:3,music-3s\n/home/ada/Music/music-3s.wav\n"
        "#EXTINF:200,Nobody - Missing song\n/home/ada/Music/missing.mp3\n"
    )
    async with client_page(f"{server.url}/signin") as client:
        await client.sign_in("ada")

        def import_file(page: Any) -> str:
            page.get_by_role("link", name="Playlists").click()
            page.locator("ul.playlists[aria-busy=false]").wait_for()
            page.get_by_label("Playlist file").set_input_files(m3u)
            page.get_by_label("Call it").fill("Trip")
            page.get_by_role("button", name="Import").click()
            return str(page.locator(".import-result p").inner_text())

        summary = await client.do(import_file)
        assert "“Trip” was made with 1 of 2 entries: 1 matched no track you may play." in summary
        unmatched = await client.js("() => document.querySelector('.unmatched').textContent")
        assert unmatched == "Entry 2: “Missing song” by Nobody"
        await client.do(lambda page: page.locator("ul.playlists a", has_text="Trip").wait_for())
        await client.do(lambda page: page.get_by_role("link", name="Open “Trip”").click())
        await client.do(lambda page: page.locator("ol.entries li").first.wait_for())
        assert await client.js("() => document.querySelectorAll('ol.entries li').length") == 1
        client.assert_clean()
