"""The admin pages in the web client: a role and a quota changed, an account created, a failed
job retried, the music folders scanned; a person who is no admin sees no admin link."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser import client_page
from tests.support.accounts import PASSWORD, fast_settings, make_admin, register
from tests.support.library import upload
from tests.support.server import RunningServer
from tests.support.tracks import wait_for_track, write_damaged_flac, write_music
from veza.config import Settings

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("chromium", "ffmpeg")]

USER = "document.querySelector('li[data-user=\"alice\"]')"
JOB = "document.querySelector('ul.jobs li')"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    music = tmp_path / "music"
    music.mkdir()
    write_music(music / "found.wav", 3)
    return fast_settings(tmp_path, music_folders=[str(music)])


async def test_admin_pages(server: RunningServer, tmp_path: Path) -> None:
    await make_admin(server, "root")
    alice = await register(server.client, "alice")
    damaged = await upload(server, alice["access_token"], write_damaged_flac(tmp_path / "d.flac"))
    assert (await wait_for_track(server, damaged.json()["id"])).status == "failed"

    async with client_page(f"{server.url}/signin") as client:
        await client.sign_in("alice")
        assert await client.do(lambda page: page.get_by_role("link", name="Admin").count()) == 0
        await client.do(lambda page: page.get_by_role("button", name="Sign out").click())
        await client.do(lambda page: page.get_by_label("Email or username").wait_for())
        await client.sign_in("root")
        await client.do(lambda page: page.get_by_role("link", name="Admin").click())

        # Alice becomes a moderator with a 5 MB quota.
        await client.do(lambda page: page.get_by_label("Role").nth(1).wait_for())
        await client.do(
            lambda page: page.locator(f"#user-{alice['user']['id']}-role").select_option(
                "moderator"
            )
        )
        await client.until(f"() => {USER}.querySelector('select').value === 'moderator'")
        # Saved (the row is drawn again from the answer: a quota typed before would be lost).
        await client.until(
            "() => /alice: saved/.test(document.getElementById('toasts').textContent)"
        )
        await client.do(lambda page: page.locator(f"#user-{alice['user']['id']}-quota").fill("5"))
        await client.do(
            lambda page: page.locator(f"#user-{alice['user']['id']}-quota").press("Enter")
        )
        await client.until(
            f"() => / of 5\\.0 MB$/.test({USER}.querySelector('.usage').textContent)"
        )
        user = await server.store.accounts.user(alice["user"]["id"])
        assert user is not None and user.role == "moderator"

        # A new account, made here (the way in when registration is closed): it signs in.
        def create(page: Any, username: str) -> None:
            form = page.locator("form.new-account")
            form.get_by_label("Username").fill(username)
            form.get_by_label("Email address").fill("carl@example.org")
            form.get_by_label("Password").fill(PASSWORD)
            form.get_by_label("Role").select_option("artist")
            form.get_by_role("button", name="Create the account").click()

        await client.do(lambda page: create(page, "carl"))
        await client.do(lambda page: page.locator('li[data-user="carl"]').wait_for())
        assert await client.js("() => document.querySelector('#new-username').value") == ""
        login = await server.client.post(
            "/api/v1/auth/login", json={"login": "carl", "password": PASSWORD}
        )
        assert login.status_code == 200 and login.json()["user"]["role"] == "artist", login.text
        # The same name again: refused, in words, beside the form.
        await client.do(lambda page: create(page, "Carl"))
        await client.until("() => document.querySelector('.new-account .error').textContent")
        said = await client.js("() => document.querySelector('.new-account .error').textContent")
        assert said == "The account was not created: username: already taken", said
        client.expect_error("status of 409")

        # The failed transcode, retried: queued again (it fails again: the file is damaged).
        await client.do(lambda page: page.get_by_label("Status").select_option("failed"))
        await client.do(lambda page: page.get_by_role("button", name="Retry transcode").click())
        await client.until(f"() => {JOB}.dataset.status !== 'failed'")

        # The music folder, scanned: its file is added.
        await client.do(lambda page: page.get_by_role("button", name="Scan now").click())
        await client.until(
            "() => /1 added/.test(document.querySelector('#scan-state + p').textContent)",
            limit_s=60,
        )
        client.assert_clean()
