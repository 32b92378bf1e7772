"""The refresh cookie of the browser client over real HTTP: its attributes, rotation through it,
reuse detection, the CSRF refusals, and logout clearing it."""

from __future__ import annotations

from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.accounts import PASSWORD, bearer, fast_settings, register
from tests.support.server import RunningServer, assert_error, serving
from veza.config import Settings

CSRF = {"X-Veza-CSRF": "1"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # No grace window: a second use of a refresh token is always a reuse.
    return fast_settings(tmp_path, refresh_reuse_grace_seconds=0)


def set_cookie(response: httpx.Response) -> Any:
    """The one Set-Cookie of the response, parsed: its value and attributes."""
    headers = response.headers.get_list("set-cookie")
    assert len(headers) == 1, headers
    jar: SimpleCookie = SimpleCookie()
    jar.load(headers[0])
    assert list(jar) == ["veza_refresh"]
    return jar["veza_refresh"]


async def login_with_cookie(server: RunningServer, username: str = "alice") -> httpx.Response:
    await register(server.client, username)
    server.client.cookies.clear()
    response = await server.client.post(
        "/api/v1/auth/login",
        json={"login": username, "password": PASSWORD, "refresh_cookie": True},
    )
    assert response.status_code == 200, response.text
    return response


async def cookie_refresh(server: RunningServer, **headers: str) -> httpx.Response:
    return await server.client.post("/api/v1/auth/refresh", json={}, headers={**CSRF, **headers})


async def test_login_sets_a_strict_httponly_cookie_scoped_to_the_refresh_route(
    server: RunningServer,
) -> None:
    response = await login_with_cookie(server)
    body = response.json()
    assert body["refresh_token"] is None  # out of the page's reach
    assert body["access_token"]
    cookie = set_cookie(response)
    assert cookie["path"] == "/api/v1/auth/refresh"
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert not cookie["secure"]  # plain HTTP here
    assert int(cookie["max-age"]) == server.settings.refresh_token_ttl_seconds
    assert "." in cookie.value


async def test_register_can_set_the_cookie_too(server: RunningServer) -> None:
    response = await server.client.post(
        "/api/v1/auth/register",
        json={
            "email": "bob@example.org",
            "username": "bob",
            "password": PASSWORD,
            "refresh_cookie": True,
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["refresh_token"] is None
    set_cookie(response)


async def test_without_the_flag_no_cookie_is_set(server: RunningServer) -> None:
    response = await server.client.post(
        "/api/v1/auth/register",
        json={"email": "carol@example.org", "username": "carol", "password": PASSWORD},
    )
    assert response.json()["refresh_token"]
    assert "set-cookie" not in response.headers


async def test_refresh_by_cookie_rotates_it(server: RunningServer) -> None:
    first = set_cookie(await login_with_cookie(server))
    response = await cookie_refresh(server)
    assert response.status_code == 200, response.text
    assert response.json()["refresh_token"] is None
    second = set_cookie(response)
    assert second.value != first.value
    me = await server.client.get("/api/v1/me", headers=bearer(response.json()["access_token"]))
    assert me.status_code == 200
    # The client's jar now holds the new one: refreshing again works.
    again = await cookie_refresh(server)
    assert again.status_code == 200, again.text


async def test_a_spent_cookie_presented_again_revokes_the_session(server: RunningServer) -> None:
    login = await login_with_cookie(server)
    first = set_cookie(login)
    assert (await cookie_refresh(server)).status_code == 200
    server.client.cookies.clear()
    reused = await server.client.post(
        "/api/v1/auth/refresh",
        json={},
        headers={**CSRF, "Cookie": f"veza_refresh={first.value}"},
    )
    assert_error(reused, 401, "invalid_token")
    assert "reused" in reused.json()["error"]["message"]
    cleared = set_cookie(reused)
    assert cleared.value == "" and cleared["max-age"] == "0"
    # The whole session is gone: its access token no longer works.
    me = await server.client.get("/api/v1/me", headers=bearer(login.json()["access_token"]))
    assert_error(me, 401, "invalid_token")


async def test_refresh_by_cookie_needs_the_csrf_header(server: RunningServer) -> None:
    await login_with_cookie(server)
    refused = await server.client.post("/api/v1/auth/refresh", json={})
    assert_error(refused, 403, "forbidden")
    assert "X-Veza-CSRF" in refused.json()["error"]["message"]
    # The cookie was not spent by the refusal.
    assert (await cookie_refresh(server)).status_code == 200


async def test_refresh_by_cookie_from_another_origin_is_refused(server: RunningServer) -> None:
    await login_with_cookie(server)
    refused = await cookie_refresh(server, Origin="https://evil.example")
    assert_error(refused, 403, "forbidden")
    own = await cookie_refresh(server, Origin=server.url)
    assert own.status_code == 200, own.text


async def test_a_form_post_cannot_refresh(server: RunningServer) -> None:
    """What a cross-site form could send: no JSON, no custom header."""
    await login_with_cookie(server)
    refused = await server.client.post(
        "/api/v1/auth/refresh",
        content="refresh_cookie=true",
        headers={"Content-Type": "application/x-www-form-urlencoded", **CSRF},
    )
    assert refused.status_code in (400, 415, 422), refused.text
    assert "set-cookie" not in refused.headers


async def test_refresh_with_no_token_anywhere_is_401(server: RunningServer) -> None:
    response = await server.client.post("/api/v1/auth/refresh", json={}, headers=CSRF)
    assert_error(response, 401, "invalid_token")


async def test_logout_clears_the_cookie(server: RunningServer) -> None:
    login = await login_with_cookie(server)
    response = await server.client.post(
        "/api/v1/auth/logout", headers=bearer(login.json()["access_token"])
    )
    assert response.status_code == 204
    cleared = set_cookie(response)
    assert cleared.value == ""
    assert cleared["path"] == "/api/v1/auth/refresh"
    after = await cookie_refresh(server)
    assert_error(after, 401, "invalid_token")


async def test_body_token_refresh_still_works_and_can_move_to_the_cookie(
    server: RunningServer,
) -> None:
    body = await register(server.client, "dave")
    plain = await server.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]}
    )
    assert plain.status_code == 200 and plain.json()["refresh_token"]
    assert "set-cookie" not in plain.headers
    moved = await server.client.post(
        "/api/v1/auth/refresh",
        json={"refresh_token": plain.json()["refresh_token"], "refresh_cookie": True},
    )
    assert moved.status_code == 200 and moved.json()["refresh_token"] is None
    set_cookie(moved)


async def test_behind_https_the_cookie_is_secure_and_under_the_prefix(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path, public_url="https://music.example/veza")
    async with serving(settings) as server:
        response = await login_with_cookie(server)
        cookie = set_cookie(response)
        assert cookie["secure"] is True
        assert cookie["path"] == "/veza/api/v1/auth/refresh"
        # A Secure cookie is not sent back over plain HTTP by a browser or httpx: send it as a
        # browser behind the proxy would.
        server.client.cookies.clear()
        refreshed = await server.client.post(
            "/api/v1/auth/refresh",
            json={},
            headers={
                **CSRF,
                "Origin": "https://music.example",
                "Cookie": f"veza_refresh={cookie.value}",
            },
        )
        assert refreshed.status_code == 200, refreshed.text
        assert set_cookie(refreshed)["secure"] is True
