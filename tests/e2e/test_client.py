"""The web client in a real browser against the real server with a fresh data dir: sign up,
upload, transcode, play, seek; the access token refreshed unnoticed; the phone-width layout;
the Content-Security-Policy; the first-load byte budget; no console errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from tests.e2e.browser import Client, client_page
from tests.support.accounts import fast_settings, register
from tests.support.server import RunningServer, serving
from tests.support.tracks import text_file

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("chromium", "ffmpeg")]

FIRST_LOAD_BUDGET = 200_000  # bytes of JavaScript and CSS, uncompressed
AUDIO = "document.getElementById('audio')"
ROW = "document.querySelector('li.upload[data-name=\"%s\"]')"
CURSOR = "document.querySelector('canvas.waveform').dataset.position"  # seconds, as drawn


def tone(path: Path, seconds: float, frequency: float = 440.0, rate: int = 44100) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    left = 0.3 * np.sin(2 * np.pi * frequency * t)
    sf.write(path, np.stack([left, left * 0.8], axis=1).astype(np.float32), rate)
    return path


async def loaded_bytes(client: Client) -> int:
    """JavaScript and CSS the page has loaded so far, uncompressed."""
    total: int = await client.js(
        """() => performance.getEntriesByType('resource')
            .filter(e => /\\.(m?js|css)(\\?|$)/.test(new URL(e.name).pathname))
            .reduce((sum, e) => sum + e.decodedBodySize, 0)"""
    )
    return total


async def test_sign_up_upload_play_seek(server: RunningServer, tmp_path: Path) -> None:
    wav = tone(tmp_path / "Morning tone.wav", 12)
    async with client_page(server.url + "/") as client:
        policy = client.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        signed_out_bytes = await loaded_bytes(client)
        await client.sign_up("ada")

        # Upload two files at once: the transfer's bar fills, then the transcode's, and the
        # track is ready; the file that is no audio gets the API's reason, in words.
        notes = text_file(tmp_path)
        await client.do(lambda page: page.get_by_role("link", name="Upload").first.click())
        await client.do(lambda page: page.set_input_files("#files", [str(wav), str(notes)]))
        await client.until(f"() => {ROW % wav.name}?.dataset.status === 'ready'", limit_s=90)
        transfer = await client.js(f"() => {ROW % wav.name}.querySelector('progress').value")
        assert transfer == 1
        await client.until(f"() => {ROW % notes.name}?.dataset.status === 'failed'")
        reason = await client.js(f"() => {ROW % notes.name}.querySelector('.note').textContent")
        assert reason == "not an audio file we can read"
        client.expect_error("status of 415")

        # The library lists it; its page shows the waveform; Play plays it.
        await client.do(lambda page: page.get_by_role("link", name="Library").first.click())
        await client.do(lambda page: page.get_by_role("link", name="Morning tone").click())
        await client.do(
            lambda page: page.locator("main").get_by_role("button", name="Play", exact=True).click()
        )
        await client.until(f"() => {AUDIO}.currentTime > 1.5")
        first = float(await client.js(f"() => {CURSOR}"))
        await client.until(f"p => Number({CURSOR}) > p + 0.5", first)
        engine = await client.js("() => window.vezaDebug.engine")
        assert engine["mode"] == "mse", engine  # our HLS loader, not the browser's
        # The middle variant first; once a transfer was measured (loopback: fast), the best.
        await client.until("() => window.vezaDebug.engine.switches >= 1")
        # The system's media controls know what plays.
        title = await client.js("() => navigator.mediaSession.metadata.title")
        assert title == "Morning tone"

        # Click three quarters into the waveform: the position jumps there and plays on.
        def click_at_three_quarters(page) -> None:  # type: ignore[no-untyped-def]
            box = page.locator("canvas.waveform").bounding_box()
            page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)

        await client.do(click_at_three_quarters)
        await client.until("() => window.vezaDebug.player.position() > 9.2")
        # Space pauses; the player says so.
        await client.do(lambda page: page.locator("main h1").click())
        await client.do(lambda page: page.keyboard.press("Space"))
        await client.until(
            "() => document.getElementById('play').getAttribute('aria-label') === 'Play'"
        )
        assert await client.js(f"() => {AUDIO}.paused")
        # `?` opens the shortcuts.
        await client.do(lambda page: page.keyboard.press("?"))
        await client.until("() => document.querySelector('dialog.help').open")
        await client.do(lambda page: page.keyboard.press("Escape"))

        # The first load of a signed-in person, from a reload (the cookie resumes the session).
        await client.do(lambda page: page.reload())
        await client.do(lambda page: page.get_by_role("heading", name="Morning tone").wait_for())
        await client.until("() => window.vezaDebug && window.vezaDebug.player")
        signed_in_bytes = await loaded_bytes(client)
        print(f"first load: {signed_out_bytes} B signed out, {signed_in_bytes} B signed in")
        assert 0 < signed_out_bytes < FIRST_LOAD_BUDGET
        assert 0 < signed_in_bytes < FIRST_LOAD_BUDGET, signed_in_bytes
        client.assert_clean()


async def test_phone_width_and_a_short_lived_access_token(tmp_path: Path) -> None:
    """Access tokens live 2 s: the client refreshes them through the cookie, unnoticed, while
    the person searches; all at 360 px wide, where every view (the chat's new group form, a
    group's members, a message being edited, a playlist's owner settings, the confirmation
    dialog, the admin's new account form) fits without scrolling sideways."""
    settings = fast_settings(tmp_path, access_token_ttl_seconds=2)
    async with (
        serving(settings) as server,
        client_page(server.url + "/", width=360, height=740) as client,
    ):
        await client.sign_up("grace")
        await client.until("() => window.vezaDebug && window.vezaDebug.auth.refreshes >= 2")
        await client.do(lambda page: page.get_by_label("Search tracks").fill("nothing like it"))
        await client.until(
            "() => /No track matches/.test(document.querySelector('main').textContent)"
        )
        await client.do(lambda page: page.get_by_role("link", name="grace").click())
        await client.do(lambda page: page.get_by_role("heading", name="Sessions").wait_for())
        await client.until("() => document.querySelectorAll('.sessions li').length === 1")
        auth = await client.js("() => window.vezaDebug.auth")
        assert auth["failedRefreshes"] == 0, auth

        # Nothing wider than the screen; the player's controls are on it and big enough to tap.
        width = await client.js("() => document.documentElement.scrollWidth")
        assert width <= 360
        boxes = await client.js(
            """() => [...document.querySelectorAll('#player button, #player input')]
                .filter(e => e.getClientRects().length)
                .map(e => { const r = e.getBoundingClientRect();
                            return [e.getAttribute('aria-label') || e.textContent.trim(),
                                    r.left, r.right, r.top, r.bottom, r.height]; })"""
        )
        assert boxes
        for name, left, right, top, bottom, height in boxes:
            assert name, "every control has a label"
            assert left >= 0 and right <= 360 and top >= 0 and bottom <= 740, name
            assert height >= 24 or name in ("Seek", "Volume"), name  # big enough to tap
        await fits(client, "account")

        # Chat: a new group, its members (by username without regard to case), an edit.
        await register(server.client, "amy")
        await register(server.client, "Zed")
        await client.do(lambda page: page.get_by_role("link", name="Chat").click())
        await client.do(lambda page: page.get_by_text("New group").click())
        await client.do(lambda page: page.get_by_label("Group title").wait_for())
        await fits(client, "new group form")

        def group(page: Any) -> None:
            page.get_by_label("Group title").fill("Band of three with a long name")
            page.get_by_label("Members").fill("Zed, amy")
            page.get_by_role("button", name="Create the group").click()
            page.get_by_role("button", name="Members").click()
            page.get_by_label("Add a member").wait_for()

        await client.do(group)
        await client.until(
            "() => [...document.querySelectorAll('.member-list .name')]"
            ".map(e => e.textContent).join() === 'amy,grace (you),Zed'"
        )
        await fits(client, "members panel")

        def edit(page: Any) -> None:
            page.get_by_role("button", name="Members").click()
            page.get_by_label("Message", exact=True).fill("a message to edit, long enough to wrap")
            page.get_by_label("Message", exact=True).press("Enter")
            page.get_by_role("button", name="Edit “a message to edit, long enough to wrap”").click()
            page.get_by_label("Edit the message").wait_for()

        await client.do(edit)
        await fits(client, "message edit form")
        await client.do(lambda page: page.get_by_label("Edit the message").press("Escape"))
        # A notice (one of the client's own toasts, as `notify` builds it) covers neither the
        # composer nor the header: on a phone notices show just under the header.
        covered = await client.js(
            """() => {
                const toast = document.createElement('div');
                toast.className = 'toast error';
                toast.textContent = 'A notice long enough to take two lines on a phone';
                document.getElementById('toasts').append(toast);
                const a = toast.getBoundingClientRect();
                const hit = (b) => a.bottom > b.top && b.bottom > a.top;
                const found = ['.composer', '#top']
                    .filter(s => hit(document.querySelector(s).getBoundingClientRect()));
                toast.remove();
                return found;
            }"""
        )
        assert covered == []

        # A playlist: the owner's settings, the confirmation dialog.
        def playlist(page: Any) -> None:
            page.get_by_role("link", name="Playlists").first.click()
            page.get_by_label("Name", exact=True).fill("Evening")
            page.get_by_role("button", name="Create").click()
            page.get_by_role("button", name="Delete this playlist").wait_for()

        await client.do(playlist)
        await fits(client, "playlist owner settings")
        await client.do(
            lambda page: page.get_by_role("button", name="Delete this playlist").click()
        )
        await client.do(lambda page: page.get_by_role("dialog").wait_for())
        await fits(client, "confirmation dialog")
        await client.do(lambda page: page.get_by_role("button", name="Cancel").click())

        # Administration, once Grace is an admin (a reload reads her role): the new account form.
        grace = await server.store.accounts.user_by_username_key("grace")
        assert grace is not None
        await server.store.accounts.set_role(grace.id, "admin", 0.0)
        await client.do(lambda page: page.reload())
        await client.do(lambda page: page.get_by_role("link", name="Admin").click())
        await client.do(lambda page: page.locator("form.new-account").wait_for())
        await fits(client, "admin")
        client.assert_clean()


# What sticks out of the screen sideways: the page's scroll width, and the visible elements
# whose box passes the right or left edge (the skip link waits off screen on purpose).
OVERFLOW = """() => {
    const width = document.documentElement.clientWidth;
    const out = [...document.querySelectorAll('body *:not(.skip)')]
        .filter(e => e.getClientRects().length)
        .filter(e => { const r = e.getBoundingClientRect();
                       return r.width && (r.right > width + 0.5 || r.left < -0.5); })
        .map(e => `${e.tagName.toLowerCase()}.${e.className}`);
    return {scroll: document.documentElement.scrollWidth, width, out: out.slice(0, 8)};
}"""


async def fits(client: Client, where: str) -> None:
    seen = await client.js(OVERFLOW)
    assert seen["scroll"] <= 360 and seen["out"] == [], (where, seen)
