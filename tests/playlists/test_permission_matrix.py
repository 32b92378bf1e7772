"""The playlist permission matrix over HTTP, on SQLite and PostgreSQL: every relation (owner,
editor, viewer, moderator, any other account) x every action x every visibility. The expected
answers are written out here, not derived from the table in veza/playlists/permissions.py, so
a change to that table shows up as a failure."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from tests.support.playlists import Account, account, create_playlist, invite, ready_track
from tests.support.server import RunningServer

VISIBILITIES = ("private", "unlisted", "public")
OK = "ok"

# action -> relation -> the answer at private, unlisted, public visibility.
EXPECTED: dict[str, dict[str, str]] = {
    "read": {
        "owner": "ok ok ok",
        "editor": "ok ok ok",
        "viewer": "ok ok ok",
        "moderator": "404 ok ok",
        "other": "404 ok ok",
    },
    "export": {
        "owner": "ok ok ok",
        "editor": "ok ok ok",
        "viewer": "ok ok ok",
        "moderator": "404 ok ok",
        "other": "404 ok ok",
    },
    "edit_entries": {
        "owner": "ok ok ok",
        "editor": "ok ok ok",
        "viewer": "403 403 403",
        "moderator": "404 403 403",
        "other": "404 403 403",
    },
    "edit_details": {
        "owner": "ok ok ok",
        "editor": "403 403 403",
        "viewer": "403 403 403",
        "moderator": "404 403 403",
        "other": "404 403 403",
    },
    "share": {
        "owner": "ok ok ok",
        "editor": "403 403 403",
        "viewer": "403 403 403",
        "moderator": "404 403 403",
        "other": "404 403 403",
    },
    "transfer": {
        "owner": "ok ok ok",
        "editor": "403 403 403",
        "viewer": "403 403 403",
        "moderator": "404 403 403",
        "other": "404 403 403",
    },
    "leave": {
        "owner": "403 403 403",
        "editor": "ok ok ok",
        "viewer": "ok ok ok",
        "moderator": "404 403 403",
        "other": "404 403 403",
    },
    "delete": {
        "owner": "ok ok ok",
        "editor": "403 403 403",
        "viewer": "403 403 403",
        "moderator": "404 ok ok",
        "other": "404 403 403",
    },
}

Attempt = Callable[[httpx.AsyncClient, str, Account], Awaitable[httpx.Response]]


@pytest.mark.slow
async def test_every_relation_action_and_visibility(server: RunningServer) -> None:
    client = server.client
    people = {
        "owner": await account(server, "owner"),
        "editor": await account(server, "editor"),
        "viewer": await account(server, "viewer"),
        "moderator": await account(server, "moderator", role="moderator"),
        "other": await account(server, "other"),
    }
    newcomer = await account(server, "newcomer")
    track = await ready_track(server, people["owner"], "song")

    def base(playlist_id: str) -> str:
        return f"/api/v1/playlists/{playlist_id}"

    attempts: dict[str, Attempt] = {
        "read": lambda c, p, who: c.get(base(p), headers=who.headers),
        "export": lambda c, p, who: c.get(f"{base(p)}/export.m3u8", headers=who.headers),
        "edit_entries": lambda c, p, who: c.post(
            f"{base(p)}/entries", json={"track_id": track}, headers=who.headers
        ),
        "edit_details": lambda c, p, who: c.patch(
            base(p), json={"name": "renamed"}, headers=who.headers
        ),
        "share": lambda c, p, who: c.post(
            f"{base(p)}/collaborators",
            json={"user_id": newcomer.user_id, "role": "viewer"},
            headers=who.headers,
        ),
        "transfer": lambda c, p, who: c.post(
            f"{base(p)}/transfer", json={"user_id": newcomer.user_id}, headers=who.headers
        ),
        "leave": lambda c, p, who: c.delete(
            f"{base(p)}/collaborators/{who.user_id}", headers=who.headers
        ),
        "delete": lambda c, p, who: c.delete(base(p), headers=who.headers),
    }
    assert set(attempts) == set(EXPECTED)

    async def fresh(visibility: str) -> str:
        playlist = await create_playlist(client, people["owner"], visibility=visibility)
        await invite(client, people["owner"], playlist["id"], people["editor"], "editor")
        await invite(client, people["owner"], playlist["id"], people["viewer"], "viewer")
        return str(playlist["id"])

    found: dict[str, dict[str, str]] = {}
    for action, attempt in attempts.items():
        # One playlist per visibility for the whole row of relations, except where a success
        # changes who is who (the owner hands over or deletes): a fresh one for each attempt.
        shared = {v: await fresh(v) for v in VISIBILITIES}
        for relation, who in people.items():
            answers = []
            for visibility in VISIBILITIES:
                if action in ("transfer", "delete"):
                    playlist_id = await fresh(visibility)
                else:
                    playlist_id = shared[visibility]
                response = await attempt(client, playlist_id, who)
                ok = 200 <= response.status_code < 300
                answers.append(OK if ok else str(response.status_code))
                if not ok:
                    assert response.json()["error"]["code"] in ("forbidden", "not_found")
            found.setdefault(action, {})[relation] = " ".join(answers)
    assert found == EXPECTED


async def test_a_role_without_playlists_cannot_create_one(server: RunningServer) -> None:
    guest = await account(server, "guest", role="guest")
    response = await server.client.post(
        "/api/v1/playlists", json={"name": "nope"}, headers=guest.headers
    )
    assert response.status_code == 403


async def test_collaborators_are_invited_changed_removed_and_ownership_moves(
    server: RunningServer,
) -> None:
    client = server.client
    owner = await account(server, "owner")
    carol = await account(server, "carol")
    dave = await account(server, "dave")
    track = await ready_track(server, owner, "song")
    playlist_id = (await create_playlist(client, owner))["id"]
    base = f"/api/v1/playlists/{playlist_id}"
    invited = await invite(client, owner, playlist_id, carol, "viewer")
    assert (invited["username"], invited["role"]) == ("carol", "viewer")
    again = await client.post(
        f"{base}/collaborators",
        json={"user_id": carol.user_id, "role": "editor"},
        headers=owner.headers,
    )
    assert again.status_code == 409
    refused = await client.post(f"{base}/entries", json={"track_id": track}, headers=carol.headers)
    assert refused.status_code == 403
    promoted = await client.patch(
        f"{base}/collaborators/{carol.user_id}", json={"role": "editor"}, headers=owner.headers
    )
    assert promoted.status_code == 200 and promoted.json()["role"] == "editor"
    assert promoted.json()["added_at"] == invited["added_at"]
    added = await client.post(f"{base}/entries", json={"track_id": track}, headers=carol.headers)
    assert added.status_code == 201
    assert (
        await client.patch(
            f"{base}/collaborators/{dave.user_id}", json={"role": "editor"}, headers=owner.headers
        )
    ).status_code == 404
    assert (
        await client.post(
            f"{base}/collaborators",
            json={"user_id": "f" * 32, "role": "viewer"},
            headers=owner.headers,
        )
    ).status_code == 422
    assert (
        await client.post(
            f"{base}/collaborators",
            json={"user_id": owner.user_id, "role": "viewer"},
            headers=owner.headers,
        )
    ).status_code == 422

    moved = await client.post(
        f"{base}/transfer", json={"user_id": carol.user_id}, headers=owner.headers
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["owner_id"] == carol.user_id
    assert moved.json()["role"] == "editor"  # the old owner stays on as an editor
    assert [c["user_id"] for c in moved.json()["collaborators"]] == [owner.user_id]
    assert (
        await client.patch(base, json={"name": "theirs now"}, headers=owner.headers)
    ).status_code == 403
    removed = await client.delete(f"{base}/collaborators/{owner.user_id}", headers=carol.headers)
    assert removed.status_code == 204
    assert (await client.get(base, headers=owner.headers)).status_code == 404
