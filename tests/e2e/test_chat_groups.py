"""Group conversations in the web client: one created with a title and members, its members
seen, one added and one removed by the group's admin, one leaving; the removed member's view
says so in words and no new message reaches it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.browser import Client, client_page
from tests.support.accounts import bearer, register
from tests.support.server import RunningServer

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("chromium")]

# The members shown, sorted (the server lists them by joining, and a group's first ones joined
# together), with a star for an admin.
MEMBERS = (
    "() => [...document.querySelectorAll('.member-list li')]"
    ".map(li => li.querySelector('.name').textContent + (li.querySelector('.badge') ? '*' : ''))"
    ".sort()"
)
GONE = "() => document.querySelector('.chat-pane .gone')?.textContent"
BODIES = "() => [...document.querySelectorAll('li.message .body')].map(e => e.textContent)"


async def say(client: Client, text: str) -> None:
    def steps(page: Any) -> None:
        page.get_by_label("Message", exact=True).fill(text)
        page.get_by_label("Message", exact=True).press("Enter")

    await client.do(steps)
    await client.until(
        "t => [...document.querySelectorAll('li.message:not(.pending) .body')]"
        ".some(e => e.textContent === t)",
        text,
    )


async def open_band(client: Client) -> None:
    def steps(page: Any) -> None:
        page.get_by_role("link", name="Chat").click()
        page.locator(".conversations a", has_text="Band").first.click()
        page.get_by_role("heading", name="Band").wait_for()

    await client.do(steps)


async def test_a_group_made_changed_and_left(server: RunningServer) -> None:
    users = {name: await register(server.client, name) for name in ("ada", "bob", "cleo", "dan")}
    async with (
        client_page(f"{server.url}/signin") as ada,
        client_page(f"{server.url}/signin") as bob,
        client_page(f"{server.url}/signin") as cleo,
    ):
        for client, name in ((ada, "ada"), (bob, "bob"), (cleo, "cleo")):
            await client.sign_in(name)

        def create(page: Any) -> None:
            page.get_by_role("link", name="Chat").click()
            page.get_by_text("New group").click()
            page.get_by_label("Group title").fill("Band")
            page.get_by_label("Members").fill("bob, cleo")
            page.get_by_role("button", name="Create the group").click()
            page.get_by_role("heading", name="Band").wait_for()

        await ada.do(create)
        await say(ada, "welcome")
        await open_band(bob)
        await open_band(cleo)
        await cleo.until("() => document.querySelectorAll('li.message').length === 1")

        # The members, from the keyboard: ada is the group's admin.
        def members(page: Any) -> None:
            page.get_by_role("button", name="Members").focus()
            page.keyboard.press("Enter")
            page.get_by_role("heading", name="Members", exact=True).wait_for()

        await ada.do(members)
        await ada.until(f"() => ({MEMBERS})().join() === 'bob,cleo,you*'")
        # Bob is no admin: he sees the members, may leave, but adds and removes nobody.
        await bob.do(members)
        await bob.until(f"() => ({MEMBERS})().join() === 'ada*,cleo,you'")
        assert await bob.do(lambda page: page.get_by_label("Add a member").count()) == 0
        assert await bob.do(lambda page: page.locator(".member-list button").count()) == 0

        # Ada adds Dan; everyone's list follows (Bob's panel is open).
        def add(page: Any) -> None:
            page.get_by_label("Add a member").fill("dan")
            page.get_by_label("Add a member").press("Enter")

        await ada.do(add)
        await ada.until(f"() => ({MEMBERS})().join() === 'bob,cleo,dan,you*'")
        await bob.until(f"() => ({MEMBERS})().join() === 'ada*,cleo,dan,you'")
        assert "4 members" in await ada.js(
            "() => document.querySelector('.chat-pane h2').textContent"
        )

        # Ada removes Cleo: Cleo's view gives way to a sentence; nothing new reaches her.
        await ada.do(
            lambda page: page.get_by_role("button", name="Remove cleo from the group").click()
        )
        await cleo.until(f"() => {GONE}")
        assert (
            await cleo.js(GONE)
            == "You were removed from “Band”: its new messages no longer reach you."
        )
        assert await cleo.js("() => document.querySelector('.chat-pane .messages')") is None
        assert (
            await cleo.js("() => document.querySelectorAll('.conversations li[data-id]').length")
            == 0
        )
        await say(ada, "after cleo")
        await bob.until(f"() => ({BODIES})().join() === 'welcome,after cleo'")
        conversation = await ada.js("() => location.pathname.split('/').pop()")
        refused = await server.client.get(
            f"/api/v1/conversations/{conversation}/messages",
            headers=bearer(users["cleo"]["access_token"]),
        )
        assert refused.status_code == 403, refused.text

        # Bob leaves (he is asked first); Ada's list of members follows.
        def leave(page: Any) -> None:
            page.get_by_role("button", name="Leave the group").click()
            page.get_by_role("button", name="Yes, leave").click()

        await bob.do(leave)
        await bob.until(f"() => {GONE} === 'You left “Band”.'")
        await ada.until(f"() => ({MEMBERS})().join() === 'dan,you*'")
        for client in (ada, bob, cleo):
            client.assert_clean()
