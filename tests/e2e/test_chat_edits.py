"""Editing and deleting messages in the web client: one's own, from the keyboard, seen live in
another browser ("edited", the tombstone); a moderator deletes someone else's; a message past
the server's edit window offers no Edit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from tests.e2e.browser import Client, client_page
from tests.support.accounts import bearer, fast_settings, register
from tests.support.server import RunningServer, serving

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("chromium")]

BODIES = "() => [...document.querySelectorAll('li.message .body')].map(e => e.textContent)"


# The message element showing the text `t` (or the tombstone's words).
FOUND = (
    "[...document.querySelectorAll('li.message')]"
    ".find(m => m.querySelector('.body')?.textContent === t)"
)
SHOWN = f"t => {FOUND}"
TOMBSTONE = "This message was deleted"


async def open_chat(client: Client, name: str) -> None:
    def steps(page: Any) -> None:
        page.get_by_role("link", name="Chat").click()
        page.locator(".conversations a", has_text=name).first.click()
        page.get_by_label("Message", exact=True).wait_for()

    await client.do(steps)


async def say(client: Client, text: str) -> None:
    def steps(page: Any) -> None:
        page.get_by_label("Message", exact=True).fill(text)
        page.get_by_label("Message", exact=True).press("Enter")

    await client.do(steps)
    await client.until(f"t => {FOUND} && !document.querySelector('.pending')", text)


async def test_edit_and_delete_my_messages_seen_live(server: RunningServer) -> None:
    ada = await register(server.client, "ada")
    bob = await register(server.client, "bob")
    made = await server.client.post(
        "/api/v1/conversations",
        json={"kind": "direct", "member_ids": [bob["user"]["id"]]},
        headers=bearer(ada["access_token"]),
    )
    assert made.status_code == 201, made.text
    async with (
        client_page(f"{server.url}/signin") as ada_page,
        client_page(f"{server.url}/signin") as bob_page,
    ):
        await ada_page.sign_in("ada")
        await bob_page.sign_in("bob")
        await open_chat(ada_page, "bob")
        await open_chat(bob_page, "ada")
        await say(ada_page, "helo bob")
        await say(ada_page, "a mistake")
        await bob_page.until(SHOWN, "a mistake")
        # Bob may neither edit nor delete Ada's messages: no such button.
        assert await bob_page.js("() => document.querySelectorAll('.actions button').length") == 0

        # Ada edits from the keyboard: Tab to Edit, Enter, the text, Enter.
        def edit(page: Any) -> None:
            page.get_by_role("button", name="Edit “helo bob”").focus()
            page.keyboard.press("Enter")
            box = page.get_by_label("Edit the message")
            assert box.evaluate("e => e === document.activeElement")
            box.fill("hello bob")
            box.press("Enter")
            page.get_by_role("button", name="Edit “hello bob”").wait_for()

        await ada_page.do(edit)
        # The focus is back on the message's Edit button; "(edited)" beside it, also for Bob.
        focused = await ada_page.js("() => document.activeElement.getAttribute('aria-label')")
        assert focused == "Edit “hello bob”"
        for page in (ada_page, bob_page):
            await page.until(f"t => {FOUND}?.querySelector('.edited')", "hello bob")

        # Escape leaves an edit without a change.
        def cancel(page: Any) -> None:
            page.get_by_role("button", name="Edit “a mistake”").click()
            page.get_by_label("Edit the message").fill("never sent")
            page.get_by_label("Edit the message").press("Escape")
            page.get_by_role("button", name="Edit “a mistake”").wait_for()

        await ada_page.do(cancel)

        # Delete asks first; then the message is a tombstone in both browsers.
        def delete(page: Any) -> None:
            page.get_by_role("button", name="Delete “a mistake”").click()
            assert page.get_by_role("button", name="Keep it").evaluate(
                "e => e === document.activeElement"
            )
            page.get_by_role("button", name="Yes, delete").click()

        await ada_page.do(delete)
        for page in (ada_page, bob_page):
            await page.until(SHOWN, TOMBSTONE)
            assert await page.js(BODIES) == ["hello bob", TOMBSTONE]
        tomb = await bob_page.js(f"t => {FOUND}.className", TOMBSTONE)
        assert "deleted" in tomb
        # Nothing to edit or delete on a tombstone.
        buttons = await ada_page.js(
            "() => [...document.querySelectorAll('.actions button')]"
            ".map(b => b.getAttribute('aria-label'))"
        )
        assert buttons == ["Edit “hello bob”", "Delete “hello bob”"]
        ada_page.assert_clean()
        bob_page.assert_clean()


async def test_a_moderator_deletes_someone_elses_message(tmp_path: Path) -> None:
    """The edit window is one second here: messages older than that offer Delete only."""
    async with serving(fast_settings(tmp_path, chat_edit_window_seconds=1)) as server:
        await moderate(server)


async def moderate(server: RunningServer) -> None:
    mod = await register(server.client, "moira")
    await server.store.accounts.set_role(mod["user"]["id"], "moderator", 0.0)
    bob = await register(server.client, "bob")
    made = await server.client.post(
        "/api/v1/conversations",
        json={"kind": "group", "member_ids": [mod["user"]["id"]], "title": "Club"},
        headers=bearer(bob["access_token"]),
    )
    conversation = made.json()["id"]
    path = f"/api/v1/conversations/{conversation}/messages"
    for who, text in ((bob, "spam spam"), (mod, "an old one")):
        sent = await server.client.post(
            path, json={"body": text}, headers=bearer(who["access_token"])
        )
        assert sent.status_code == 201, sent.text
    await trio.sleep(1.1)  # past the edit window

    async with client_page(f"{server.url}/signin") as client:
        await client.sign_in("moira")
        await open_chat(client, "Club")
        await client.until(SHOWN, "spam spam")
        labels = await client.js(
            "() => [...document.querySelectorAll('.actions button')]"
            ".map(b => b.getAttribute('aria-label'))"
        )
        assert labels == ["Delete “spam spam”", "Delete “an old one”"]

        def delete(page: Any) -> None:
            page.get_by_role("button", name="Delete “spam spam”").click()
            page.get_by_role("button", name="Yes, delete").click()

        await client.do(delete)
        await client.until(SHOWN, TOMBSTONE)
        # A new message of mine offers Edit for a second, then no more.
        await say(client, "fresh")
        await client.until("() => !document.querySelector('.actions button:not(.danger)')")
        history = await server.client.get(path, headers=bearer(bob["access_token"]))
        first = history.json()["items"][-1]
        assert first["deleted"] and first["body"] == "", first
        client.assert_clean()
