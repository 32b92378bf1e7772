"""Failures that happen out of sight are told in words: a read mark that cannot be sent over
REST (once for a run of failures, again after one went through) and a cover that cannot be
fetched (a labelled placeholder, no broken image). The browser's network fails the requests
(Playwright's routing aborts them: the client sees what a dropped connection gives it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.e2e.browser import Client, client_page
from tests.players.tracks import listener
from tests.support.accounts import bearer, put_cover
from tests.support.server import RunningServer
from tests.support.tagged import png

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("chromium")]

TOASTS = "() => [...document.querySelectorAll('.toast.error span')].map(e => e.textContent)"
NOT_MARKED = "Messages are not marked as read: Veza cannot be reached"


def is_read_mark(url: str) -> bool:
    return url.endswith("/read")


def is_cover(url: str) -> bool:
    return "/cover?" in url


def aborted(client: Client, part: str) -> int:
    """Requests to `part` the browser reported failed; they and the console's line for each
    ("Failed to load resource") are expected here, so no longer counted as errors."""
    failed = [e for e in client.errors if e.startswith("request failed:") and part in e]
    console = [e for e in client.errors if "Failed to load resource: net::ERR_FAILED" in e]
    client.errors[:] = [e for e in client.errors if e not in failed and e not in console]
    return len(failed)


async def until(client: Client, condition: Callable[[], Awaitable[bool]]) -> None:
    """Wait (up to 10 s) for something seen outside the page."""
    for _ in range(100):
        if await condition():
            return
        await client.do(lambda page: page.wait_for_timeout(100))
    raise AssertionError("still not so after 10 s")


async def test_a_failed_read_mark_is_said_once_per_run_of_failures(
    server: RunningServer,
) -> None:
    ada = await listener(server, "ada")
    bob = await listener(server, "bob")
    made = await server.client.post(
        "/api/v1/conversations",
        json={"kind": "direct", "member_ids": [ada.user_id]},
        headers=bearer(bob.token),
    )
    conversation = made.json()["id"]

    async def bob_says(text: str) -> None:
        sent = await server.client.post(
            f"/api/v1/conversations/{conversation}/messages",
            json={"body": text},
            headers=bearer(bob.token),
        )
        assert sent.status_code == 201, sent.text

    async def ada_reads(text: str) -> None:
        """Ada opens the conversation with her socket down: the read mark goes over REST."""

        def steps(page: Any) -> None:
            page.get_by_role("link", name="Chat").click()
            page.locator(".conversations a").first.click()
            page.locator("li.message .body", has_text=text).wait_for()

        await client.do(steps)

    async def read_seq() -> int:
        detail = await server.client.get(
            f"/api/v1/conversations/{conversation}", headers=bearer(ada.token)
        )
        seq: int = detail.json()["read_seq"]
        return seq

    failures = 0

    async def another_failure() -> bool:
        nonlocal failures
        failures += aborted(client, "/read")
        return failures >= expected

    async with client_page(f"{server.url}/signin") as client:
        await client.sign_in("ada")
        await client.js("() => window.vezaLive.stop()")
        await bob_says("one")
        await client.do(lambda page: page.route(is_read_mark, lambda route: route.abort()))
        await ada_reads("one")
        expected = 1
        await until(client, another_failure)
        await client.until(f"() => ({TOASTS})().length === 1")
        assert (await client.js(TOASTS))[0].startswith(NOT_MARKED)

        # It fails again: nothing more is said (the first message is still there).
        await client.do(lambda page: page.get_by_role("link", name="Library").first.click())
        await ada_reads("one")
        expected = 2
        await until(client, another_failure)
        assert len(await client.js(TOASTS)) == 1
        assert await read_seq() == 0

        # The network is back: the mark goes through. Then a new failure is said again.
        await client.do(lambda page: page.unroute(is_read_mark))
        await client.do(lambda page: page.get_by_role("link", name="Library").first.click())
        await ada_reads("one")

        async def marked() -> bool:
            return await read_seq() == 1

        await until(client, marked)
        await bob_says("two")
        await client.do(lambda page: page.route(is_read_mark, lambda route: route.abort()))
        await client.do(lambda page: page.get_by_role("link", name="Library").first.click())
        await ada_reads("two")
        expected = 3
        await until(client, another_failure)
        await client.until(f"() => ({TOASTS})().length === 2")
        client.assert_clean()


async def test_a_cover_that_cannot_be_fetched_gives_way_to_a_labelled_placeholder(
    server: RunningServer,
) -> None:
    ada = await listener(server, "ada")
    made = await server.client.post(
        "/api/v1/playlists", json={"name": "Mix"}, headers=bearer(ada.token)
    )
    playlist_id = made.json()["id"]
    await put_cover(server.client, f"/api/v1/playlists/{playlist_id}/cover", ada.token, png())

    async with client_page(f"{server.url}/signin") as client:
        await client.sign_in("ada")
        await client.do(lambda page: page.route(is_cover, lambda route: route.abort()))
        await client.do(lambda page: page.goto(f"{server.url}/playlists/{playlist_id}"))
        placeholder = await client.do(
            lambda page: page.get_by_role(
                "img", name="Cover of Mix: it could not be loaded"
            ).first.text_content()
        )
        assert placeholder == "Cover unavailable"
        assert await client.js("() => document.querySelectorAll('img.cover').length") == 0

        # Asked for again the next time it is shown: with the network back, it is drawn.
        assert aborted(client, "/cover?") >= 1
        await client.do(lambda page: page.unroute(is_cover))
        await client.do(lambda page: page.get_by_role("link", name="Playlists").first.click())
        await client.do(lambda page: page.locator(".playlists a", has_text="Mix").click())
        await client.until(
            "() => document.querySelector('.playlist-cover img.cover')?.naturalWidth > 0"
        )
        client.assert_clean()
