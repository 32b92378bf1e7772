"""Accounts on PostgreSQL, with two servers sharing the database: a session revoked through one
is refused by the other at once, refresh-token reuse is caught across servers, and a username
race between servers gives one 201 and one 409."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio

from tests.support import require_postgres
from tests.support.accounts import FAST, PASSWORD, bearer, register
from tests.support.postgres import postgres_schema
from tests.support.server import make_settings
from veza.serve import run_veza


@pytest.mark.slow
async def test_two_servers_on_one_postgres_share_sessions(tmp_path: Path) -> None:
    url = require_postgres()
    async with postgres_schema(url) as database:
        row = await database.fetch_one("SELECT current_schema() AS s")
        assert row is not None
        settings = make_settings(
            tmp_path / "shared",
            database_url=f"{url}?search_path={row['s']}",
            refresh_reuse_grace_seconds=0,
            **FAST,
        )
        shutdown = trio.Event()
        async with trio.open_nursery() as nursery:
            a_running = await nursery.start(run_veza, settings, shutdown)
            b_running = await nursery.start(run_veza, settings, shutdown)
            async with (
                httpx.AsyncClient(base_url=a_running.urls[0], timeout=10) as a,
                httpx.AsyncClient(base_url=b_running.urls[0], timeout=10) as b,
            ):
                statuses: list[int] = []

                async def attempt(client: httpx.AsyncClient, email: str) -> None:
                    response = await client.post(
                        "/api/v1/auth/register",
                        json={"email": email, "username": "Racer", "password": PASSWORD},
                    )
                    statuses.append(response.status_code)

                async with trio.open_nursery() as race:
                    race.start_soon(attempt, a, "one@example.org")
                    race.start_soon(attempt, b, "two@example.org")
                assert sorted(statuses) == [201, 409]

                first = await register(a, "alice")
                assert (
                    await b.get("/api/v1/me", headers=bearer(first["access_token"]))
                ).status_code == 200
                rotated = await b.post(
                    "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
                )
                assert rotated.status_code == 200
                reused = await a.post(
                    "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
                )
                assert reused.status_code == 401
                token = rotated.json()["access_token"]
                assert (await b.get("/api/v1/me", headers=bearer(token))).status_code == 401

                second = (
                    await a.post(
                        "/api/v1/auth/login", json={"login": "alice", "password": PASSWORD}
                    )
                ).json()
                assert (
                    await a.post("/api/v1/auth/logout", headers=bearer(second["access_token"]))
                ).status_code == 204
                assert (
                    await b.get("/api/v1/me", headers=bearer(second["access_token"]))
                ).status_code == 401
            shutdown.set()
