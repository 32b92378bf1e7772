"""axe-core (from the npm registry, tests/e2e/package.json) finds no serious or critical
violation of WCAG 2.1 A/AA on the client's pages, in the light and the dark colour scheme; and
on each of them nothing marked `hidden` is displayed (a display rule of the style sheet, such
as the buttons' inline-block, beats the attribute unless app.css says otherwise)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser import Client, client_page
from tests.players.tracks import import_music, listener
from tests.support import unavailable
from tests.support.accounts import bearer, make_admin
from tests.support.server import RunningServer
from tests.support.tracks import wait_for_track

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("chromium", "ffmpeg")]

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
RUN = """() => axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
}).then(result => result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => ({id: v.id, impact: v.impact, help: v.help,
                where: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))"""


@pytest.fixture
def axe() -> str:
    if not AXE.is_file():
        folder = AXE.parents[2]
        unavailable(f"axe-core is not installed: run `npm ci` in {folder} (./scripts/test does)")
    return AXE.read_text()


# Elements marked hidden that are displayed all the same.
SHOWN_HIDDEN = """() => [...document.querySelectorAll('[hidden]')]
    .filter(e => getComputedStyle(e).display !== 'none')
    .map(e => e.outerHTML.slice(0, 80))"""


async def violations(client: Client, where: str) -> list[Any]:
    found: list[Any] = []
    for shown in await client.js(SHOWN_HIDDEN):
        found.append({"page": where, "id": "hidden-but-shown", "where": shown})
    for scheme in ("light", "dark"):
        await client.do(lambda page, scheme=scheme: page.emulate_media(color_scheme=scheme))
        for violation in await client.js(RUN):
            found.append({"page": where, "scheme": scheme, **violation})
    return found


async def test_the_main_pages_have_no_serious_accessibility_violation(
    server: RunningServer, tmp_path: Path, axe: str
) -> None:
    async with client_page(server.url + "/") as client:
        await client.js(axe)  # evaluated by the test's driver: the page's CSP does not apply
        found = await violations(client, "sign in")
        ada = await make_admin(server, "ada")  # so that the admin page is seen too
        await client.sign_in("ada")
        who = await listener(server, "bob")
        track_id = await import_music(server, tmp_path, who, 4)
        assert (await wait_for_track(server, track_id)).status == "ready"
        await client.do(lambda page: page.get_by_role("link", name="Upload").first.click())
        await client.do(lambda page: page.get_by_role("link", name="Library").first.click())
        await client.do(lambda page: page.locator("li.track").first.wait_for())
        found += await violations(client, "library")
        await client.do(lambda page: page.locator("li.track a.title").first.click())
        await client.until("() => document.querySelector('canvas.waveform')")
        found += await violations(client, "track")
        await client.do(lambda page: page.get_by_role("link", name="Upload").first.click())
        await client.do(lambda page: page.get_by_role("heading", name="Upload").wait_for())
        found += await violations(client, "upload")
        await client.do(lambda page: page.get_by_role("link", name="ada").click())
        await client.do(lambda page: page.locator(".sessions li").first.wait_for())
        found += await violations(client, "account")
        await client.do(lambda page: page.get_by_role("link", name="Stats").click())
        await client.do(lambda page: page.locator("#summary").wait_for())
        found += await violations(client, "stats")
        await client.do(lambda page: page.get_by_role("link", name="Admin").click())
        await client.do(lambda page: page.locator("ul.jobs li").first.wait_for())
        await client.do(lambda page: page.locator("#scan-state:not(:empty)").wait_for())
        found += await violations(client, "admin")
        chat = await server.client.post(
            "/api/v1/conversations",
            json={"kind": "direct", "member_ids": [ada["user"]["id"]]},
            headers=bearer(who.token),
        )
        await server.client.post(
            f"/api/v1/conversations/{chat.json()['id']}/messages",
            json={"body": "hello"},
            headers=bearer(who.token),
        )
        await client.do(lambda page: page.get_by_role("link", name="Library").first.click())
        await client.do(lambda page: page.get_by_role("link", name="Albums").first.click())
        await client.do(lambda page: page.locator(".albums li").first.wait_for())
        found += await violations(client, "albums")

        await client.do(lambda page: page.get_by_role("link", name="Playlists").click())
        await client.do(lambda page: page.locator("ul.playlists[aria-busy=false]").wait_for())
        found += await violations(client, "playlists")

        def playlist(page) -> None:  # type: ignore[no-untyped-def]
            page.get_by_label("Name", exact=True).fill("Evening")
            page.get_by_role("button", name="Create").click()
            page.get_by_label("Search tracks to add").fill("music")
            page.locator(".found button").first.click()
            page.locator("ol.entries li").first.wait_for()

        await client.do(playlist)
        found += await violations(client, "playlist")
        await client.do(
            lambda page: page.get_by_role("button", name="Delete this playlist").click()
        )
        await client.do(lambda page: page.get_by_role("dialog").wait_for())
        found += await violations(client, "confirmation")
        await client.do(lambda page: page.get_by_role("button", name="Cancel").click())
        await client.do(lambda page: page.get_by_role("link", name="Chat").click())
        await client.do(lambda page: page.locator(".conversations a").first.click())
        await client.do(lambda page: page.locator("li.message").first.wait_for())
        found += await violations(client, "chat")

        def edit_and_open_a_group(page) -> None:  # type: ignore[no-untyped-def]
            page.get_by_label("Message", exact=True).fill("mine")
            page.get_by_label("Message", exact=True).press("Enter")
            page.get_by_role("button", name="Edit “mine”").click()
            page.get_by_label("Edit the message").wait_for()

        await client.do(edit_and_open_a_group)
        found += await violations(client, "chat: a message edited")
        await client.do(lambda page: page.get_by_role("button", name="Delete “hello”").click())
        found += await violations(client, "chat: a deletion confirmed")
        group = await server.client.post(
            "/api/v1/conversations",
            json={"kind": "group", "member_ids": [ada["user"]["id"]], "title": "Band"},
            headers=bearer(who.token),
        )
        assert group.status_code == 201, group.text
        # Ada was added: the group comes into her list live.
        await client.do(lambda page: page.locator(".conversations a", has_text="Band").click())
        await client.do(lambda page: page.get_by_role("button", name="Members").click())
        await client.do(lambda page: page.get_by_role("button", name="Leave the group").wait_for())
        await client.do(lambda page: page.get_by_text("New group").click())
        found += await violations(client, "chat: a group's members, a new group")
        await client.do(lambda page: page.keyboard.press("?"))
        found += await violations(client, "keyboard help")
        assert found == [], "\n".join(map(str, found))
        # And axe does see a violation when there is one: a button without a name.
        await client.do(lambda page: page.keyboard.press("Escape"))
        await client.js("() => document.body.append(document.createElement('button'))")
        assert "button-name" in [violation["id"] for violation in await client.js(RUN)]
        client.assert_clean()
