"""Two people chat in two browsers: a conversation started by username, the unread count, the
typing indicator, the read receipt, presence, and a reconnection that loses no message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser import Client, client_page
from tests.support.accounts import fast_settings
from tests.support.server import RunningServer
from veza.config import Settings

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("chromium")]

LOG = "document.querySelector('.messages')"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Offline half a second after the last socket closed, so the test sees presence change.
    return fast_settings(tmp_path, presence_offline_grace_seconds=0.5)


async def say(client: Client, text: str) -> None:
    def steps(page: Any) -> None:
        page.get_by_label("Message", exact=True).fill(text)
        page.get_by_label("Message", exact=True).press("Enter")

    await client.do(steps)


async def shows(client: Client, text: str) -> None:
    await client.until(
        "t => [...document.querySelectorAll('li.message:not(.pending) .body')]"
        ".some(e => e.textContent === t)",
        text,
    )


async def test_two_people_chat(server: RunningServer) -> None:
    async with client_page(server.url + "/") as ada, client_page(server.url + "/") as bob:
        await bob.sign_up("bob")
        await ada.sign_up("ada")

        def start(page: Any) -> None:
            page.get_by_role("link", name="Chat").click()
            page.get_by_label("Start a conversation with").fill("bob")
            page.get_by_role("button", name="Start").click()
            page.get_by_label("Message", exact=True).wait_for()

        await ada.do(start)
        await say(ada, "hello bob")
        await shows(ada, "hello bob")

        # Bob's list: the conversation with Ada, one unread message, its text.
        await bob.do(lambda page: page.get_by_role("link", name="Chat").click())
        await bob.until("() => document.querySelector('.conversations .unread')")
        row = await bob.js("() => document.querySelector('.conversations a').textContent")
        assert "ada" in row and "unread: 1" in row and "hello bob" in row, row
        await bob.do(lambda page: page.locator(".conversations a").first.click())
        await shows(bob, "hello bob")
        # Bob has read it: Ada sees the receipt under her message.
        await ada.until(
            "() => document.querySelector('li.message.mine .receipt')?.textContent === 'Read'"
        )

        # Bob types: Ada sees it; Bob sends: the indicator goes and the message is there.
        await bob.do(
            lambda page: page.get_by_label("Message", exact=True).press_sequentially("hi a")
        )
        await ada.until("() => document.querySelector('.typing').textContent === 'bob is typing…'")
        await say(bob, "hi ada")
        await shows(ada, "hi ada")
        await ada.until("() => document.querySelector('.typing').textContent === ''")

        # Presence: Bob's socket goes, Ada sees him offline; it comes back, online.
        await bob.js("() => window.vezaLive.stop()")
        await ada.until("() => document.querySelector('h2 .dot').dataset.status === 'offline'")
        await bob.js("() => window.vezaLive.start()")
        await ada.until("() => document.querySelector('h2 .dot').dataset.status === 'online'")

        # Ada's socket is down while Bob writes twice: once back, she has both, once each.
        await ada.js("() => window.vezaLive.stop()")
        await say(bob, "one while you were away")
        await say(bob, "two while you were away")
        await shows(bob, "two while you were away")
        await ada.js("() => window.vezaLive.start()")
        await shows(ada, "two while you were away")
        texts = await ada.js(
            f"() => [...{LOG}.querySelectorAll('li.message .body')].map(e => e.textContent)"
        )
        assert texts == [
            "hello bob",
            "hi ada",
            "one while you were away",
            "two while you were away",
        ]
        assert (await ada.js("() => window.vezaLive.stats.readies")) == 2
        ada.assert_clean()
        bob.assert_clean()
