"""Roles through the one guard over real HTTP: deny by default, 401 without a token, 403
without the permission; user administration (roles, disabling, cursor pagination)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from tests.support.accounts import PASSWORD, administer, bearer, fast_settings, make_admin, register
from tests.support.server import RunningServer, assert_error
from veza.accounts import Permission, Role
from veza.config import Settings
from veza.transport.guard import current_principal, require
from veza.transport.pagination import encode_cursor


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path)


def add_upload_route(server: RunningServer) -> None:
    @require(Permission.UPLOAD)
    async def upload() -> dict[str, str]:
        return {"uploaded_by": current_principal().user.username}

    server.app.add_url_rule("/api/v1/test/upload", "test_upload", upload, methods=["POST"])


async def test_a_route_gated_by_upload_admits_users_and_refuses_guests(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="veza.transport.guard")
    add_upload_route(server)
    admin = await make_admin(server)
    user = await register(server.client, "uploader")
    assert_error(await server.client.post("/api/v1/test/upload"), 401, "unauthenticated")
    allowed = await server.client.post("/api/v1/test/upload", headers=bearer(user["access_token"]))
    assert allowed.status_code == 200
    assert allowed.json() == {"uploaded_by": "uploader"}
    demoted = await administer(server, admin, user["user"]["id"], role="guest")
    assert demoted.status_code == 200, demoted.text
    assert demoted.json()["role"] == "guest"
    # The role is read on every request: the demotion applies to the token already held.
    refused = await server.client.post("/api/v1/test/upload", headers=bearer(user["access_token"]))
    assert_error(refused, 403, "forbidden")
    assert "upload" in refused.json()["error"]["message"]
    denied = [r.getMessage() for r in caplog.records if "access denied" in r.getMessage()]
    guest_id = user["user"]["id"]
    assert denied == [
        f"access denied: user {guest_id} (guest) lacks upload for POST /api/v1/test/upload"
    ]
    # A guest may still read.
    profile = await server.client.get(
        f"/api/v1/users/{admin['user']['id']}", headers=bearer(user["access_token"])
    )
    assert profile.status_code == 200


async def test_a_route_under_api_v1_without_an_access_rule_is_denied(
    server: RunningServer,
) -> None:
    async def forgotten() -> dict[str, str]:
        return {"leaked": "yes"}

    server.app.add_url_rule("/api/v1/test/forgotten", "test_forgotten", forgotten)
    admin = await make_admin(server)
    for headers in ({}, bearer(admin["access_token"])):
        response = await server.client.get("/api/v1/test/forgotten", headers=headers)
        assert_error(response, 403, "forbidden")


@pytest.mark.slow
@pytest.mark.parametrize("role", [r.value for r in Role if r != Role.ADMIN])
async def test_admin_routes_refuse_every_other_role(server: RunningServer, role: str) -> None:
    admin = await make_admin(server)
    user = await register(server.client, "someone")
    if role != "user":
        assert (await administer(server, admin, user["user"]["id"], role=role)).status_code == 200
    headers = bearer(user["access_token"])
    listing = await server.client.get("/api/v1/admin/users", headers=headers)
    assert_error(listing, 403, "forbidden")
    change = await server.client.patch(
        f"/api/v1/admin/users/{user['user']['id']}", json={"role": "admin"}, headers=headers
    )
    assert_error(change, 403, "forbidden")
    assert_error(await server.client.get("/api/v1/admin/users"), 401, "unauthenticated")


async def test_admin_user_changes_are_validated(server: RunningServer) -> None:
    admin = await make_admin(server)
    user = await register(server.client, "someone")
    bad_role = await administer(server, admin, user["user"]["id"], role="superuser")
    assert_error(bad_role, 422, "validation_failed")
    missing = await administer(server, admin, "no-such-user", role="guest")
    assert_error(missing, 404, "not_found")
    self_demote = await administer(server, admin, admin["user"]["id"], role="user")
    assert_error(self_demote, 409, "conflict")
    self_disable = await administer(server, admin, admin["user"]["id"], disabled=True)
    assert_error(self_disable, 409, "conflict")
    promoted = await administer(server, admin, user["user"]["id"], role="moderator")
    assert promoted.json()["role"] == "moderator"


async def test_disabling_a_user_revokes_their_sessions_and_blocks_login(
    server: RunningServer,
) -> None:
    admin = await make_admin(server)
    user = await register(server.client, "troll")
    disabled = await administer(server, admin, user["user"]["id"], disabled=True)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["disabled"] is True
    assert_error(
        await server.client.get("/api/v1/me", headers=bearer(user["access_token"])),
        401,
        "invalid_token",
    )
    assert_error(
        await server.client.post(
            "/api/v1/auth/refresh", json={"refresh_token": user["refresh_token"]}
        ),
        401,
        "invalid_token",
    )
    login = await server.client.post(
        "/api/v1/auth/login", json={"login": "troll", "password": PASSWORD}
    )
    assert_error(login, 403, "forbidden")
    enabled = await administer(server, admin, user["user"]["id"], disabled=False)
    assert enabled.json()["disabled"] is False
    again = await server.client.post(
        "/api/v1/auth/login", json={"login": "troll", "password": PASSWORD}
    )
    assert again.status_code == 200


async def test_admin_lists_users_with_cursor_pagination(server: RunningServer) -> None:
    admin = await make_admin(server)
    names = [f"user{i:02d}" for i in range(7)]
    for name in names:
        await register(server.client, name)
    headers = bearer(admin["access_token"])
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor is not None:
            params["cursor"] = cursor
        response = await server.client.get("/api/v1/admin/users", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items", "next_cursor"}
        assert len(body["items"]) <= 3
        seen += [item["username"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ["root", *names]
    assert pages == 3
    first = (await server.client.get("/api/v1/admin/users", headers=headers)).json()
    assert first["next_cursor"] is None
    assert {"email", "disabled", "role"} <= set(first["items"][0])


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor"},
        {"cursor": "WzEsMiwzXQ"},
        {"cursor": encode_cursor((int("9" * 350), "a"))},  # beyond any float
        {"limit": 0},
        {"limit": 201},
    ],
)
@pytest.mark.slow
async def test_bad_pagination_parameters_are_422(
    server: RunningServer, params: dict[str, Any]
) -> None:
    admin = await make_admin(server)
    response = await server.client.get(
        "/api/v1/admin/users", params=params, headers=bearer(admin["access_token"])
    )
    assert_error(response, 422, "validation_failed")
