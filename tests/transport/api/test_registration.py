"""Registration as a setting: open (anyone signs up) or closed (admins create accounts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.accounts import PASSWORD, bearer, fast_settings, register
from tests.support.server import RunningServer, assert_error, serving
from veza.accounts import Role
from veza.config import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path, registration="closed")


async def login(server: RunningServer, name: str) -> str:
    response = await server.client.post(
        "/api/v1/auth/login", json={"login": name, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def test_closed_registration_refuses_sign_up_and_admins_create_accounts(
    server: RunningServer,
) -> None:
    refused = await server.client.post(
        "/api/v1/auth/register",
        json={"email": "eve@example.org", "username": "evelyn", "password": PASSWORD},
    )
    assert_error(refused, 403, "forbidden")
    assert "registration is closed" in refused.json()["error"]["message"]
    await server.services.accounts.create_user(
        email="root@example.org", username="rooter", password=PASSWORD, role=Role.ADMIN
    )
    admin = await login(server, "rooter")
    new = {"email": "ann@example.org", "username": "annabel", "password": PASSWORD}
    created = await server.client.post("/api/v1/admin/users", json=new, headers=bearer(admin))
    assert created.status_code == 201, created.text
    assert created.json()["role"] == "user" and created.json()["username"] == "annabel"
    annabel = await login(server, "annabel")
    # Only admins: the new user may not create accounts, and a taken name is a conflict.
    again = {**new, "email": "ann2@example.org", "username": "annie"}
    by_user = await server.client.post("/api/v1/admin/users", json=again, headers=bearer(annabel))
    assert_error(by_user, 403, "forbidden")
    taken = await server.client.post("/api/v1/admin/users", json=new, headers=bearer(admin))
    assert_error(taken, 409, "conflict")
    weak = {**again, "password": "short"}
    assert_error(
        await server.client.post("/api/v1/admin/users", json=weak, headers=bearer(admin)),
        422,
        "validation_failed",
    )


async def test_open_registration_is_the_default(tmp_path: Path) -> None:
    async with serving(fast_settings(tmp_path)) as server:
        await register(server.client, "openness")
