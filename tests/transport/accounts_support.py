"""Helpers for the account tests: cheap hashing settings and a few HTTP shortcuts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.conftest import make_settings
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
