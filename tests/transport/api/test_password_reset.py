"""Password reset over real HTTP: always 202, a single-use token by mail (the log sender),
the new password set and every session revoked."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import httpx
import pytest
import trio

from tests.support.accounts import PASSWORD, administer, bearer, fast_settings, make_admin, register
from tests.support.server import RunningServer, assert_error
from veza.config import Settings

NEW = "a completely new passphrase"
_TOKEN = re.compile(r"^    (\S+\.\S+)$", re.MULTILINE)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path)


async def mailed_token(caplog: pytest.LogCaptureFixture, to: str) -> str:
    """The token in the message the log sender wrote for `to`, waiting for the mailer task."""
    return (await mailed_tokens(caplog, to, 1))[0]


async def mailed_tokens(caplog: pytest.LogCaptureFixture, to: str, count: int) -> list[str]:
    """The tokens of the first `count` messages the log sender wrote for `to`."""
    with trio.fail_after(5):
        while True:
            tokens = []
            for record in caplog.records:
                if record.name == "veza.accounts.mail" and f"mail to {to}" in record.getMessage():
                    found = _TOKEN.search(record.getMessage())
                    assert found is not None, record.getMessage()
                    tokens.append(found.group(1))
            if len(tokens) >= count:
                return tokens[:count]
            await trio.sleep(0.01)


async def request_reset(server: RunningServer, email: str) -> None:
    response = await server.client.post("/api/v1/auth/password-reset", json={"email": email})
    assert response.status_code == 202, response.text


async def confirm(server: RunningServer, token: str, password: str = NEW) -> httpx.Response:
    return await server.client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "password": password}
    )


async def test_reset_sets_the_password_and_revokes_every_session(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="veza.accounts.mail")
    first = await register(server.client, "alice")
    await request_reset(server, " ALICE@example.org")
    token = await mailed_token(caplog, "alice@example.org")
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


async def test_unknown_email_gets_202_and_no_mail(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="veza.accounts.mail")
    await register(server.client, "alice")
    await request_reset(server, "nobody@example.org")
    await request_reset(server, "not even an email")
    await request_reset(server, "alice@example.org")
    await mailed_token(caplog, "alice@example.org")  # the queue was worked through
    assert not [r for r in caplog.records if "nobody@example.org" in r.getMessage()]


async def test_bad_tokens_and_weak_passwords_are_refused_without_spending_the_token(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="veza.accounts.mail")
    await register(server.client, "alice")
    await request_reset(server, "alice@example.org")
    token = await mailed_token(caplog, "alice@example.org")
    token_id = token.split(".")[0]
    for bad in ("", "garbage", f"{token_id}.wrong", f"nope.{token.split('.')[1]}"):
        assert_error(await confirm(server, bad), 422, "validation_failed")
    assert_error(await confirm(server, token, "password1"), 422, "validation_failed")
    assert (await confirm(server, token)).status_code == 204


async def test_a_reset_spends_every_outstanding_token_of_the_user(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="veza.accounts.mail")
    await register(server.client, "alice")
    await request_reset(server, "alice@example.org")
    await request_reset(server, "alice@example.org")
    first, second = await mailed_tokens(caplog, "alice@example.org", 2)
    assert (await confirm(server, second)).status_code == 204
    assert_error(await confirm(server, first, "yet another passphrase"), 422, "validation_failed")


async def test_a_password_change_spends_outstanding_reset_tokens(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="veza.accounts.mail")
    body = await register(server.client, "alice")
    await request_reset(server, "alice@example.org")
    token = await mailed_token(caplog, "alice@example.org")
    changed = await server.client.patch(
        "/api/v1/me",
        json={"password": "my own new passphrase", "current_password": PASSWORD},
        headers=bearer(body["access_token"]),
    )
    assert changed.status_code == 200, changed.text
    assert_error(await confirm(server, token), 422, "validation_failed")


async def test_disabling_spends_outstanding_reset_tokens(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="veza.accounts.mail")
    admin = await make_admin(server)
    user_id = (await register(server.client, "alice"))["user"]["id"]
    await request_reset(server, "alice@example.org")
    token = await mailed_token(caplog, "alice@example.org")
    assert (await administer(server, admin, user_id, disabled=True)).status_code == 200
    assert (await administer(server, admin, user_id, disabled=False)).status_code == 200
    assert_error(await confirm(server, token), 422, "validation_failed")


async def test_a_disabled_user_cannot_reset_their_password(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="veza.accounts.mail")
    user_id = (await register(server.client, "alice"))["user"]["id"]
    await request_reset(server, "alice@example.org")
    token = await mailed_token(caplog, "alice@example.org")
    # Disabled behind the service's back, so the token itself is still unspent.
    await server.store.accounts.set_disabled(user_id, True, 0.0)
    assert_error(await confirm(server, token), 422, "validation_failed")
    login = await server.client.post("/api/v1/auth/login", json={"login": "alice", "password": NEW})
    assert_error(login, 401, "invalid_credentials")


class TestExpiry:
    @pytest.fixture
    def settings(self, tmp_path: Path) -> Settings:
        return fast_settings(tmp_path, password_reset_ttl_seconds=1)

    async def test_reset_token_expires(
        self, server: RunningServer, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO, logger="veza.accounts.mail")
        await register(server.client, "alice")
        await request_reset(server, "alice@example.org")
        token = await mailed_token(caplog, "alice@example.org")
        await trio.sleep(1.1)
        assert_error(await confirm(server, token), 422, "validation_failed")
