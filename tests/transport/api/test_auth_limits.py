"""Rate limits on the auth routes over real HTTP, from two loopback addresses, on virtual time:
buckets drain only when a test advances the clock, so a slow machine changes no count."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.accounts import PASSWORD, fast_settings, register
from tests.support.clock import Clock
from tests.support.server import RunningServer, assert_error
from veza.config import Settings

ATTACKER = "127.0.0.2"

pytestmark = pytest.mark.usefixtures("clock")  # the server runs on the virtual clock


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(
        tmp_path,
        auth_rate_address_burst=8,
        auth_rate_address_per_minute=60,
        auth_rate_account_burst=3,
        auth_rate_account_per_minute=60,  # one more try per second
        auth_rate_account_total_burst=30,
        auth_rate_account_total_per_minute=600,
    )


@pytest.fixture
async def attacker(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.AsyncHTTPTransport(local_address=ATTACKER)
    async with httpx.AsyncClient(base_url=server.url, transport=transport, timeout=10) as client:
        yield client


async def login(client: httpx.AsyncClient, login: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"login": login, "password": password})


async def test_hammering_an_account_slows_the_attacker_not_the_owner(
    server: RunningServer, attacker: httpx.AsyncClient
) -> None:
    await register(server.client, "victim")
    statuses = [(await login(attacker, "victim", f"guess {i}")).status_code for i in range(12)]
    assert statuses[:3] == [401, 401, 401]
    assert set(statuses[3:]) == {429}
    limited = await login(attacker, "victim", "guess")
    assert_error(limited, 429, "rate_limited")
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    # The owner, elsewhere, gets in at once with the right password.
    owner = await login(server.client, "victim", PASSWORD)
    assert owner.status_code == 200, owner.text


async def test_email_and_username_of_one_account_share_its_buckets(
    server: RunningServer, attacker: httpx.AsyncClient
) -> None:
    await register(server.client, "victim", email="victim@example.org")
    forms = ["victim", "VICTIM@example.org", "Victim", "victim@example.org"]
    statuses = [(await login(attacker, form, "guess")).status_code for form in forms]
    assert statuses == [401, 401, 401, 429]


async def test_unknown_accounts_are_limited_by_their_login(
    server: RunningServer, attacker: httpx.AsyncClient
) -> None:
    statuses = [(await login(attacker, "Nobody", f"guess {i}")).status_code for i in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert (await login(attacker, "nobody@example.org", "guess")).status_code == 401


async def test_an_address_is_limited_across_accounts_and_recovers(
    server: RunningServer, attacker: httpx.AsyncClient, clock: Clock
) -> None:
    statuses = [(await login(attacker, f"user{i}", "whatever")).status_code for i in range(10)]
    assert statuses[:8] == [401] * 8
    assert statuses[8:] == [429, 429]
    retry_after = int((await login(attacker, "x", "y")).headers["retry-after"])
    assert retry_after == 1  # 60 per minute: one per second
    clock.advance(retry_after - 0.25)
    assert (await login(attacker, "user0", "whatever")).status_code == 429
    clock.advance(0.25)
    assert (await login(attacker, "user0", "whatever")).status_code == 401
    assert (await login(attacker, "user1", "whatever")).status_code == 429  # one, not a burst
    # Other addresses were never affected.
    assert (await login(server.client, "user0", "whatever")).status_code == 401


async def test_account_lockout_lasts_only_the_configured_drip(
    server: RunningServer, attacker: httpx.AsyncClient, clock: Clock
) -> None:
    await register(server.client, "victim")
    for i in range(3):
        await login(attacker, "victim", f"guess {i}")
    refused = await login(attacker, "victim", PASSWORD)
    assert refused.status_code == 429
    retry_after = int(refused.headers["retry-after"])
    assert retry_after == 1  # 60 per minute for the account from one address
    clock.advance(retry_after - 0.25)
    assert (await login(attacker, "victim", PASSWORD)).status_code == 429
    clock.advance(0.25)
    assert (await login(attacker, "victim", PASSWORD)).status_code == 200


async def test_register_refresh_and_reset_are_limited_too(
    server: RunningServer, attacker: httpx.AsyncClient
) -> None:
    for path, body, answer in [
        (
            "/api/v1/auth/register",
            {"email": "e@example.org", "username": "same", "password": "x"},
            422,  # the password is too short: each try still counts
        ),
        ("/api/v1/auth/password-reset", {"email": "someone@example.org"}, 202),
    ]:
        statuses = [(await attacker.post(path, json=body)).status_code for _ in range(5)]
        assert statuses == [answer] * 3 + [429, 429], (path, statuses)


async def test_refresh_is_limited_by_the_tokens_owner_or_else_by_address(
    server: RunningServer, attacker: httpx.AsyncClient
) -> None:
    # A token that does not verify names nobody: only the address bucket (8) applies, however
    # its id is varied.
    statuses = [
        (
            await attacker.post("/api/v1/auth/refresh", json={"refresh_token": f"id{i}.secret"})
        ).status_code
        for i in range(10)
    ]
    assert statuses == [401] * 8 + [429, 429]
    # A genuine token counts against its owner, though every refresh brings a new token id.
    token = (await register(server.client, "owner"))["refresh_token"]
    statuses = []
    for _ in range(4):
        response = await server.client.post("/api/v1/auth/refresh", json={"refresh_token": token})
        statuses.append(response.status_code)
        token = response.json().get("refresh_token", token)
    assert statuses == [200, 200, 200, 429]


async def test_guessing_the_current_password_with_a_stolen_token_is_limited(
    server: RunningServer,
) -> None:
    body = await register(server.client, "victim")
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    statuses = [
        (
            await server.client.patch(
                "/api/v1/me",
                json={"password": "new long passphrase", "current_password": f"guess {i}"},
                headers=headers,
            )
        ).status_code
        for i in range(5)
    ]
    assert statuses[:3] == [403, 403, 403]
    assert statuses[3:] == [429, 429]
