"""`session.revoked` follows every revocation, after its commit, on the user's topic: what
closes the session's WebSockets (in every process, through the bus)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.accounts import PASSWORD, bearer, fast_settings, make_admin, register
from tests.support.mail import Mailbox, open_mailbox
from tests.support.server import RunningServer
from veza.accounts.events import SessionRevoked
from veza.config import Settings
from veza.events import topic


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path, refresh_reuse_grace_seconds=0)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with open_mailbox() as box:
        yield box


async def revoked_by(
    server: RunningServer, user_id: str, action: Callable[[], Awaitable[Any]]
) -> SessionRevoked:
    """The one session.revoked event `action` publishes (the revocation already committed:
    the store no longer accepts the session when it arrives)."""
    async with server.services.events.subscribe(topic("user", user_id)) as subscription:
        await action()
        delivery = await subscription.receive()
    assert isinstance(delivery.event, SessionRevoked)
    return delivery.event


def session_of(grant: dict[str, Any], server: RunningServer) -> str:
    claims = server.services.accounts._tokens.decode(grant["access_token"], server.services.clock())
    return claims.session_id


async def test_logout(server: RunningServer) -> None:
    alice = await register(server.client, "alice")
    event = await revoked_by(
        server,
        alice["user"]["id"],
        lambda: server.client.post("/api/v1/auth/logout", headers=bearer(alice["access_token"])),
    )
    assert event.session_id == session_of(alice, server)
    assert not await server.services.accounts.session_alive(event.session_id)


async def test_revoking_one_of_ones_sessions(server: RunningServer) -> None:
    alice = await register(server.client, "alice")
    other = (
        await server.client.post(
            "/api/v1/auth/login", json={"login": "alice", "password": PASSWORD}
        )
    ).json()
    gone = session_of(other, server)
    event = await revoked_by(
        server,
        alice["user"]["id"],
        lambda: server.client.delete(
            f"/api/v1/me/sessions/{gone}", headers=bearer(alice["access_token"])
        ),
    )
    assert event.session_id == gone
    assert event.ends(gone) and not event.ends(session_of(alice, server))


async def test_a_password_change_ends_every_other_session(server: RunningServer) -> None:
    alice = await register(server.client, "alice")
    event = await revoked_by(
        server,
        alice["user"]["id"],
        lambda: server.client.patch(
            "/api/v1/me",
            json={"password": "an entirely new passphrase", "current_password": PASSWORD},
            headers=bearer(alice["access_token"]),
        ),
    )
    kept = session_of(alice, server)
    assert (event.session_id, event.except_session_id) == (None, kept)
    assert not event.ends(kept) and event.ends("any other session")


async def test_a_reused_refresh_token_ends_its_session(server: RunningServer) -> None:
    alice = await register(server.client, "alice")
    spent = alice["refresh_token"]
    assert (
        await server.client.post("/api/v1/auth/refresh", json={"refresh_token": spent})
    ).is_success

    async def replay() -> None:
        response = await server.client.post("/api/v1/auth/refresh", json={"refresh_token": spent})
        assert response.status_code == 401

    event = await revoked_by(server, alice["user"]["id"], replay)
    assert event.session_id == session_of(alice, server)


async def test_a_password_reset_ends_every_session(server: RunningServer, mailbox: Mailbox) -> None:
    alice = await register(server.client, "alice")
    await server.client.post("/api/v1/auth/password-reset", json={"email": "alice@example.org"})
    token = await mailbox.token_for("alice@example.org")
    event = await revoked_by(
        server,
        alice["user"]["id"],
        lambda: server.client.post(
            "/api/v1/auth/password-reset/confirm",
            json={"token": token, "password": "an entirely new passphrase"},
        ),
    )
    assert (event.session_id, event.except_session_id) == (None, None)
    assert event.ends(session_of(alice, server))


async def test_disabling_a_user_ends_every_session(server: RunningServer) -> None:
    admin = await make_admin(server)
    alice = await register(server.client, "alice")
    event = await revoked_by(
        server,
        alice["user"]["id"],
        lambda: server.client.patch(
            f"/api/v1/admin/users/{alice['user']['id']}",
            json={"disabled": True},
            headers=bearer(admin["access_token"]),
        ),
    )
    assert event.ends(session_of(alice, server))
