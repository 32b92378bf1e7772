"""Albums and artists in the web client, with covers fetched under the bearer token; the
visibility chosen at upload and changed on the track page."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.browser import client_page
from tests.players.tracks import listener
from tests.support.accounts import put_cover
from tests.support.server import RunningServer
from tests.support.tagged import png
from tests.support.tracks import wait_for_track, write_music
from veza.tracks import Tags

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("chromium", "ffmpeg")]

COVER = "document.querySelector('.album-card img.cover')"


async def test_albums_artists_covers_and_visibility(server: RunningServer, tmp_path: Path) -> None:
    ada = await listener(server, "ada")
    track = await server.services.tracks.import_file(
        write_music(tmp_path / "a.wav", 3),
        owner_id=ada.user_id,
        tags=Tags("Slow river", "Ana Lima", "Night walks", year=2024),
    )
    assert (await wait_for_track(server, track.id)).status == "ready"
    album_id = track.album_id
    await put_cover(server.client, f"/api/v1/albums/{album_id}/cover", ada.token, png(300, 300))

    async with client_page(f"{server.url}/signin") as client:
        await client.sign_in("ada")
        await client.do(lambda page: page.get_by_role("link", name="Albums").click())
        # The cover came through the bearer token, as a blob, and was drawn.
        await client.until(f"() => {COVER}?.src.startsWith('blob:') && {COVER}.naturalWidth > 0")
        await client.do(lambda page: page.get_by_role("link", name="Night walks").click())
        await client.do(lambda page: page.get_by_role("heading", name="Night walks").wait_for())
        assert await client.js("() => document.querySelectorAll('ol.tracks li.track').length") == 1
        await client.do(lambda page: page.get_by_role("link", name="Ana Lima").click())
        await client.do(lambda page: page.get_by_role("heading", name="Ana Lima").wait_for())
        await client.do(lambda page: page.get_by_role("link", name="Slow river").click())

        # The owner makes the track public from its page.
        await client.do(lambda page: page.get_by_label("Who may see it").select_option("public"))
        await client.do(lambda page: page.get_by_text("Visible to: everyone here.").wait_for())
        assert (await server.store.tracks.get(track.id)).visibility == "public"  # type: ignore[union-attr]

        # An upload for anyone with the link (the server's default is private).
        wav = write_music(tmp_path / "Quiet one.wav", 2)
        await client.do(lambda page: page.get_by_role("link", name="Upload").first.click())
        await client.do(
            lambda page: page.get_by_label("Who may see the tracks").select_option("unlisted")
        )
        await client.do(lambda page: page.set_input_files("#files", [str(wav)]))
        await client.until("() => document.querySelector('li.upload')?.dataset.id")
        uploaded = await client.js("() => document.querySelector('li.upload').dataset.id")
        assert (await server.store.tracks.get(uploaded)).visibility == "unlisted"  # type: ignore[union-attr]
        client.assert_clean()
