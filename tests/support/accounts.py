"""Helpers for the account tests: cheap hashing settings and a few HTTP shortcuts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.support.server import RunningServer, make_settings
from veza.config import Settings

# Cheap argon2 so tests are fast (the defaults are RFC 9106 low-memory); generous rate limits
# except where a test is about them.
FAST: dict[str, Any] = {
    "argon2_time_cost": 1,
    "argon2_memory_kib": 1024,
    "argon2_parallelism": 1,
    "auth_rate_address_burst": 10_000,
    "auth_rate_account_burst": 10_000,
    "auth_rate_account_total_burst": 10_000,
}

PASSWORD = "correct horse battery staple"


def fast_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return make_settings(tmp_path / "data", **{**FAST, **overrides})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def put_cover(client: httpx.AsyncClient, path: str, token: str, image: bytes) -> None:
    """PUT a PNG as the cover at `path` (a playlist's, an album's), as its owner."""
    response = await client.put(
        path, content=image, headers={**bearer(token), "Content-Type": "image/png"}
    )
    assert response.status_code in (200, 204), response.text


async def register(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD, email: str | None = None
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/auth/register",
        json={
            "email": email or f"{username}@example.org",
            "username": username,
            "password": password,
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def make_admin(server: RunningServer, username: str = "root") -> dict[str, Any]:
    """The first admin comes from the CLI in real life; here the repository sets the role."""
    body = await register(server.client, username)
    await server.store.accounts.set_role(body["user"]["id"], "admin", 0.0)
    return body


async def administer(
    server: RunningServer, admin: dict[str, Any], user_id: str, **changes: Any
) -> Any:
    return await server.client.patch(
        f"/api/v1/admin/users/{user_id}", json=changes, headers=bearer(admin["access_token"])
    )
