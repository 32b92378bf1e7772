"""Password reset over real HTTP: always 202, a single-use token by mail (the log sender),
the new password set and every session revoked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.accounts import PASSWORD, administer, bearer, fast_settings, make_admin, register
from tests.support.clock import Clock
from tests.support.mail import Mailbox, open_mailbox
from tests.support.server import RunningServer, assert_error
from veza.config import Settings

NEW = "a completely new passphrase"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with open_mailbox() as box:
        yield box


async def request_reset(server: RunningServer, email: str) -> None:
    response = await server.client.post("/api/v1/auth/password-reset", json={"email": email})
    assert response.status_code == 202, response.text


async def confirm(server: RunningServer, token: str, password: str = NEW) -> httpx.Response:
    return await server.client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "password": password}
    )


async def test_reset_sets_the_password_and_revokes_every_session(
    server: RunningServer, mailbox: Mailbox
) -> None:
    first = await register(server.client, "alice")
    await request_reset(server, " ALICE@example.org")
    token = await mailbox.token_for("alice@example.org")
    done = await confirm(server, token)
    assert done.status_code == 204, done.text
    assert_error(
        await server.client.get("/api/v1/me", headers=bearer(first["access_token"])),
        401,
        "invalid_token",
    )
    assert_error(
        await server.client.post(
            "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
        ),
        401,
        "invalid_token",
    )
    old = await server.client.post(
        "/api/v1/auth/login", json={"login": "alice", "password": PASSWORD}
    )
    assert_error(old, 401, "invalid_credentials")
    new = await server.client.post("/api/v1/auth/login", json={"login": "alice", "password": NEW})
    assert new.status_code == 200
    # Single use.
    assert_error(await confirm(server, token, "yet another passphrase"), 422, "validation_failed")


async def test_unknown_email_gets_202_and_no_mail(server: RunningServer, mailbox: Mailbox) -> None:
    await register(server.client, "alice")
    await request_reset(server, "nobody@example.org")
    await request_reset(server, "not even an email")
    await request_reset(server, "alice@example.org")
    await mailbox.wait_for("alice@example.org")  # the queue was worked through, in order
    assert list(mailbox.tokens) == ["alice@example.org"]


async def test_bad_tokens_and_weak_passwords_are_refused_without_spending_the_token(
    server: RunningServer, mailbox: Mailbox
) -> None:
    await register(server.client, "alice")
    await request_reset(server, "alice@example.org")
    token = await mailbox.token_for("alice@example.org")
    token_id = token.split(".")[0]
    for bad in ("", "garbage", f"{token_id}.wrong", f"nope.{token.split('.')[1]}"):
        assert_error(await confirm(server, bad), 422, "validation_failed")
    assert_error(await confirm(server, token, "password1"), 422, "validation_failed")
    assert (await confirm(server, token)).status_code == 204


async def test_a_reset_spends_every_outstanding_token_of_the_user(
    server: RunningServer, mailbox: Mailbox
) -> None:
    await register(server.client, "alice")
    await request_reset(server, "alice@example.org")
    await request_reset(server, "alice@example.org")
    first, second = await mailbox.wait_for("alice@example.org", 2)
    assert (await confirm(server, second)).status_code == 204
    assert_error(await confirm(server, first, "yet another passphrase"), 422, "validation_failed")


async def test_a_password_change_spends_outstanding_reset_tokens(
    server: RunningServer, mailbox: Mailbox
) -> None:
    body = await register(server.client, "alice")
    await request_reset(server, "alice@example.org")
    token = await mailbox.token_for("alice@example.org")
    changed = await server.client.patch(
        "/api/v1/me",
        json={"password": "my own new passphrase", "current_password": PASSWORD},
        headers=bearer(body["access_token"]),
    )
    assert changed.status_code == 200, changed.text
    assert_error(await confirm(server, token), 422, "validation_failed")


async def test_disabling_spends_outstanding_reset_tokens(
    server: RunningServer, mailbox: Mailbox
) -> None:
    admin = await make_admin(server)
    user_id = (await register(server.client, "alice"))["user"]["id"]
    await request_reset(server, "alice@example.org")
    token = await mailbox.token_for("alice@example.org")
    assert (await administer(server, admin, user_id, disabled=True)).status_code == 200
    assert (await administer(server, admin, user_id, disabled=False)).status_code == 200
    assert_error(await confirm(server, token), 422, "validation_failed")


async def test_a_disabled_user_cannot_reset_their_password(
    server: RunningServer, mailbox: Mailbox
) -> None:
    user_id = (await register(server.client, "alice"))["user"]["id"]
    await request_reset(server, "alice@example.org")
    token = await mailbox.token_for("alice@example.org")
    # Disabled behind the service's back, so the token itself is still unspent.
    await server.store.accounts.set_disabled(user_id, True, 0.0)
    assert_error(await confirm(server, token), 422, "validation_failed")
    login = await server.client.post("/api/v1/auth/login", json={"login": "alice", "password": NEW})
    assert_error(login, 401, "invalid_credentials")


async def test_reset_token_expires(server: RunningServer, mailbox: Mailbox, clock: Clock) -> None:
    ttl = server.settings.password_reset_ttl_seconds
    await register(server.client, "alice")
    await request_reset(server, "alice@example.org")
    token = await mailbox.token_for("alice@example.org")  # made at the clock's now
    clock.advance(ttl - 0.25)
    # Still good a moment before: refused for the weak password, not for the token.
    weak = await confirm(server, token, "password1")
    assert_error(weak, 422, "validation_failed")
    assert weak.json()["error"]["message"].startswith("password:")
    clock.advance(0.25)
    expired = await confirm(server, token)
    assert_error(expired, 422, "validation_failed")
    assert expired.json()["error"]["message"].startswith("token:")
    login = await server.client.post(
        "/api/v1/auth/login", json={"login": "alice", "password": PASSWORD}
    )
    assert login.status_code == 200  # the password is unchanged
