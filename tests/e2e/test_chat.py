"""Two people chat in two browsers: a conversation started by username, the unread count, the
typing indicator, the read receipt, presence, and a reconnection that loses no message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser import Client, client_page
from tests.support.accounts import bearer, fast_settings, register
from tests.support.server import RunningServer
from veza.config import Settings

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("chromium")]

LOG = "document.querySelector('.messages')"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Offline half a second after the last socket closed, so the test sees presence change.
    # A long history is written at once (the send rate limit raised for it).
    return fast_settings(
        tmp_path, presence_offline_grace_seconds=0.5, chat_send_burst=100, chat_send_per_minute=6000
    )


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


async def test_a_long_history_loads_as_it_scrolls_up(server: RunningServer) -> None:
    ada = await register(server.client, "ada")
    bob = await register(server.client, "bob")
    headers = bearer(bob["access_token"])
    made = await server.client.post(
        "/api/v1/conversations",
        json={"kind": "direct", "member_ids": [ada["user"]["id"]]},
        headers=headers,
    )
    path = f"/api/v1/conversations/{made.json()['id']}/messages"
    for n in range(1, 76):
        sent = await server.client.post(path, json={"body": f"line {n}"}, headers=headers)
        assert sent.status_code == 201, sent.text
    async with client_page(f"{server.url}/signin") as client:
        await client.sign_in("ada")
        await client.do(lambda page: page.get_by_role("link", name="Chat").click())
        await client.until(
            "() => /unread: 75/.test(document.querySelector('.conversations').textContent)"
        )
        await client.do(lambda page: page.locator(".conversations a").first.click())
        await shows(client, "line 75")
        # The newest first page (30); scrolling to the top brings the older ones, page by page.
        assert await client.js("() => document.querySelectorAll('li.message').length") < 75
        await client.until(
            f"() => ({LOG}.scrollTop = 0, document.querySelectorAll('li.message').length === 75)"
        )
        texts = await client.js(
            f"() => [...{LOG}.querySelectorAll('li.message .body')].map(e => e.textContent)"
        )
        assert texts == [f"line {n}" for n in range(1, 76)]
        client.assert_clean()
