"""Access and refresh tokens over real HTTP: forgeries refused, rotation, reuse detection,
logout and revocation effective from the next request, absolute session lifetime."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
import trio

from tests.support.accounts import PASSWORD, bearer, fast_settings, register
from tests.support.clock import Clock
from tests.support.server import RunningServer, assert_error
from veza.config import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # No grace window: a second use of a refresh token is always a reuse.
    return fast_settings(tmp_path, refresh_reuse_grace_seconds=0)


async def me_status(server: RunningServer, token: str) -> int:
    return (await server.client.get("/api/v1/me", headers=bearer(token))).status_code


async def refresh(server: RunningServer, token: str) -> Any:
    return await server.client.post("/api/v1/auth/refresh", json={"refresh_token": token})


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def test_access_token_carries_the_documented_claims(server: RunningServer) -> None:
    body = await register(server.client, "alice")
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "HS256"
    claims = claims_of(body["access_token"])
    assert set(claims) == {"iss", "aud", "exp", "iat", "sub", "sid", "typ"}
    assert claims["sub"] == body["user"]["id"]
    assert claims["typ"] == "access"
    assert claims["exp"] - claims["iat"] == 900
    # Opaque, 256-bit refresh token, unrelated to the JWT.
    assert body["refresh_token"].count(".") == 1
    assert len(body["refresh_token"].split(".")[1]) >= 43


async def test_requests_without_a_valid_token_are_401_with_a_challenge(
    server: RunningServer,
) -> None:
    for headers in (
        {},
        {"Authorization": "Basic abc"},
        bearer("not-a-jwt"),
        {"Authorization": "Bearer"},
    ):
        response = await server.client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"]["code"] in {"unauthenticated", "invalid_token"}
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_forged_and_foreign_tokens_are_refused(server: RunningServer) -> None:
    body = await register(server.client, "alice")
    good = body["access_token"]
    assert await me_status(server, good) == 200
    claims = claims_of(good)
    secret = server.secret
    now = int(time.time())
    forged = {
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.",
        "other key": jwt.encode(claims, "another-secret-of-enough-length-0123456789", "HS256"),
        "wrong aud": jwt.encode({**claims, "aud": "someone-else"}, secret, "HS256"),
        "wrong iss": jwt.encode({**claims, "iss": "elsewhere"}, secret, "HS256"),
        "expired": jwt.encode({**claims, "iat": now - 3600, "exp": now - 60}, secret, "HS256"),
        "not access": jwt.encode({**claims, "typ": "refresh"}, secret, "HS256"),
        "no sid": jwt.encode({k: v for k, v in claims.items() if k != "sid"}, secret, "HS256"),
        "HS512": jwt.encode(claims, secret, "HS512"),
        "other session": jwt.encode({**claims, "sid": "0" * 32}, secret, "HS256"),
        "other user": jwt.encode({**claims, "sub": "0" * 32}, secret, "HS256"),
        "tampered": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        "refresh token": body["refresh_token"],
    }
    refused = {}
    for name, token in forged.items():
        response = await server.client.get("/api/v1/me", headers=bearer(token))
        refused[name] = (response.status_code, response.json()["error"]["code"])
    assert refused == {name: (401, "invalid_token") for name in forged}


async def test_refresh_returns_a_new_pair_and_spends_the_old_token(server: RunningServer) -> None:
    first = await register(server.client, "alice")
    second = await refresh(server, first["refresh_token"])
    assert second.status_code == 200, second.text
    pair = second.json()
    assert pair["refresh_token"] != first["refresh_token"]
    assert claims_of(pair["access_token"])["sid"] == claims_of(first["access_token"])["sid"]
    assert await me_status(server, pair["access_token"]) == 200
    third = await refresh(server, pair["refresh_token"])
    assert third.status_code == 200


async def test_refresh_token_reuse_revokes_the_whole_session(server: RunningServer) -> None:
    first = await register(server.client, "alice")
    rotated = (await refresh(server, first["refresh_token"])).json()
    other = (
        await server.client.post(
            "/api/v1/auth/login", json={"login": "alice", "password": PASSWORD}
        )
    ).json()
    reused = await refresh(server, first["refresh_token"])
    assert_error(reused, 401, "invalid_token")
    assert "reused" in reused.json()["error"]["message"]
    # Every token of that session is dead: the newest refresh token and the access tokens.
    assert_error(await refresh(server, rotated["refresh_token"]), 401, "invalid_token")
    assert await me_status(server, rotated["access_token"]) == 401
    assert await me_status(server, first["access_token"]) == 401
    # Another session of the same user is untouched.
    assert await me_status(server, other["access_token"]) == 200


async def test_bad_refresh_tokens_are_401(server: RunningServer) -> None:
    body = await register(server.client, "alice")
    token_id, secret = body["refresh_token"].split(".")
    for token in ("", "garbage", f"{token_id}.wrong-secret", f"nope.{secret}", "." * 5):
        assert_error(await refresh(server, token), 401, "invalid_token")
    # A wrong secret for a real id does not spend the token.
    assert (await refresh(server, body["refresh_token"])).status_code == 200


async def test_logout_takes_effect_on_the_next_request(server: RunningServer) -> None:
    body = await register(server.client, "alice")
    headers = bearer(body["access_token"])
    assert (await server.client.get("/api/v1/me", headers=headers)).status_code == 200
    out = await server.client.post("/api/v1/auth/logout", headers=headers)
    assert out.status_code == 204
    assert_error(await server.client.get("/api/v1/me", headers=headers), 401, "invalid_token")
    assert_error(await refresh(server, body["refresh_token"]), 401, "invalid_token")
    assert_error(
        await server.client.post("/api/v1/auth/logout", headers=headers), 401, "invalid_token"
    )


class TestGraceWindow:
    @pytest.fixture
    def settings(self, tmp_path: Path) -> Settings:
        return fast_settings(tmp_path, refresh_reuse_grace_seconds=5)

    async def test_two_concurrent_refreshes_both_succeed(self, server: RunningServer) -> None:
        body = await register(server.client, "alice")
        results: list[int] = []

        async def attempt() -> None:
            results.append((await refresh(server, body["refresh_token"])).status_code)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(attempt)
            nursery.start_soon(attempt)
        assert results == [200, 200]
        assert await me_status(server, body["access_token"]) == 200


class TestLifetimes:
    """On virtual time: the clock moves only when the test says, so each expiry is checked on
    both sides of its boundary."""

    @pytest.fixture
    def settings(self, tmp_path: Path) -> Settings:
        return fast_settings(tmp_path, access_token_ttl_seconds=2, session_lifetime_seconds=3)

    async def test_access_token_expires_and_session_has_an_absolute_lifetime(
        self, server: RunningServer, clock: Clock
    ) -> None:
        t = clock.now()
        body = await register(server.client, "alice")  # the session ends at t + 3
        assert body["expires_in"] == 2
        claims = claims_of(body["access_token"])
        assert (claims["iat"], claims["exp"]) == (t, t + 2)
        clock.advance(1.75)
        assert await me_status(server, body["access_token"]) == 200
        clock.advance(0.25)  # t + 2: the access token's `exp`
        assert_error(
            await server.client.get("/api/v1/me", headers=bearer(body["access_token"])),
            401,
            "invalid_token",
        )
        # The session lives on: its refresh token brings an access token good until t + 4...
        renewed = await refresh(server, body["refresh_token"])
        assert renewed.status_code == 200, renewed.text
        pair = renewed.json()
        assert claims_of(pair["access_token"])["exp"] == t + 4
        clock.advance(0.75)
        assert await me_status(server, pair["access_token"]) == 200
        # ...but at t + 3 the session is over, and every token of it with the session.
        clock.advance(0.25)
        assert await me_status(server, pair["access_token"]) == 401
        assert_error(await refresh(server, pair["refresh_token"]), 401, "invalid_token")

    async def test_an_expired_session_is_gone_for_revocation_too(
        self, server: RunningServer, clock: Clock
    ) -> None:
        first = await register(server.client, "alice")
        listed = await server.client.get(
            "/api/v1/me/sessions", headers=bearer(first["access_token"])
        )
        (expired,) = [s["id"] for s in listed.json()["items"]]
        clock.advance(3)
        second = await server.client.post(
            "/api/v1/auth/login", json={"login": "alice", "password": PASSWORD}
        )
        headers = bearer(second.json()["access_token"])
        listed = await server.client.get("/api/v1/me/sessions", headers=headers)
        assert [s["id"] for s in listed.json()["items"]] == [
            claims_of(second.json()["access_token"])["sid"]
        ]
        revoke = await server.client.delete(f"/api/v1/me/sessions/{expired}", headers=headers)
        assert_error(revoke, 404, "not_found")
