"""The periodic purge: revoked or expired sessions, their refresh tokens and old reset tokens
leave the database while the server runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from tests.support.accounts import bearer, fast_settings, register
from tests.support.clock import Clock
from tests.support.mail import open_mailbox
from tests.support.server import RunningServer
from veza.app import periodic_tasks
from veza.config import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path, account_cleanup_interval_seconds=0.2)


async def count(server: RunningServer, table: str) -> int:
    row = await server.store.database.fetch_one(f"SELECT COUNT(*) AS n FROM {table}")
    assert row is not None
    return int(row["n"])


async def eventually(server: RunningServer, **counts: int) -> None:
    """Wait (at most 5 s) until each table holds the given number of rows."""
    with trio.fail_after(5):
        while True:
            found = {table: await count(server, table) for table in counts}
            if found == counts:
                return
            await trio.sleep(0.05)


async def test_purge_is_one_of_the_periodic_tasks(server: RunningServer) -> None:
    names = [task.name for task in periodic_tasks(server.services)]
    assert any("sessions" in name for name in names)


@pytest.mark.slow
async def test_revoked_sessions_and_expired_reset_tokens_are_purged(
    server: RunningServer, clock: Clock
) -> None:
    body = await register(server.client, "alice")
    kept = await register(server.client, "bob")
    await server.client.post("/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert await count(server, "sessions") == 2
    assert await count(server, "refresh_tokens") == 3
    await server.client.post("/api/v1/auth/logout", headers=bearer(body["access_token"]))
    await eventually(server, sessions=1, refresh_tokens=1)
    me = await server.client.get("/api/v1/me", headers=bearer(kept["access_token"]))
    assert me.status_code == 200

    with open_mailbox() as mailbox:
        await server.client.post("/api/v1/auth/password-reset", json={"email": "bob@example.org"})
        await mailbox.token_for("bob@example.org")
    assert await count(server, "password_resets") == 1
    clock.advance(server.settings.password_reset_ttl_seconds - 0.25)
    # A purge that runs a moment before the token expires (it takes bob's revoked session)
    # leaves the token be; the first one after takes it.
    await server.client.post("/api/v1/auth/logout", headers=bearer(kept["access_token"]))
    await eventually(server, sessions=0, password_resets=1)
    clock.advance(0.25)
    await eventually(server, password_resets=0)
