"""CORS over real HTTP: preflights and simple requests from an allowed origin on the API and on
HLS, nothing for any other origin, errors readable by the allowed one."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.support.accounts import bearer, fast_settings, register
from tests.support.server import RunningServer, assert_error, serving
from veza.config import ConfigError, Settings, load_settings
from veza.tracks.playback import sign

APP = "https://app.example"
TRACK = "a" * 24  # no such track: HLS answers 404, which is enough for its headers


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path, cors_origins=f"{APP},http://localhost:5173")


def hls_path(server: RunningServer) -> str:
    token = sign(server.secret, TRACK, int(time.time()) + 600)
    return f"/hls/{TRACK}/1/master.m3u8?token={token}"


def preflight(method: str, origin: str = APP, headers: str = "") -> dict[str, str]:
    asked = {"Origin": origin, "Access-Control-Request-Method": method}
    return {**asked, "Access-Control-Request-Headers": headers} if headers else asked


def listed(response: httpx.Response, name: str) -> set[str]:
    return {item.strip().lower() for item in response.headers.get(name, "").split(",")}


def assert_allowed_preflight(response: httpx.Response, origin: str = APP) -> None:
    assert response.status_code == 204, response.text
    assert "content-length" not in response.headers  # none on a 204 (RFC 9110 8.6)
    assert response.headers["access-control-allow-origin"] == origin
    assert {"get", "post", "delete"} <= listed(response, "access-control-allow-methods")
    assert {"authorization", "content-type", "range"} <= listed(
        response, "access-control-allow-headers"
    )
    assert int(response.headers["access-control-max-age"]) > 0
    assert "origin" in listed(response, "vary")


def assert_cors_for(response: httpx.Response, origin: str = APP) -> None:
    assert response.headers["access-control-allow-origin"] == origin
    assert {"content-length", "content-range", "x-request-id", "retry-after"} <= listed(
        response, "access-control-expose-headers"
    )
    assert "origin" in listed(response, "vary")


def assert_no_cors(response: httpx.Response) -> None:
    assert not [name for name in response.headers if name.lower().startswith("access-control-")]


async def test_preflights_from_an_allowed_origin_get_204_without_a_token(
    server: RunningServer,
) -> None:
    asked = "authorization, content-type"
    for path, method in (
        ("/api/v1/me", "GET"),
        ("/api/v1/tracks", "POST"),  # the upload route: the guard is not asked
        (f"/api/v1/tracks/{TRACK}", "DELETE"),
    ):
        response = await server.client.options(path, headers=preflight(method, headers=asked))
        assert_allowed_preflight(response)
    response = await server.client.options(
        hls_path(server), headers=preflight("GET", "http://localhost:5173", "range")
    )
    assert_allowed_preflight(response, "http://localhost:5173")


async def test_api_responses_and_errors_carry_cors_headers_for_an_allowed_origin(
    server: RunningServer,
) -> None:
    user = await register(server.client, "corsuser")
    me = await server.client.get(
        "/api/v1/me", headers={**bearer(user["access_token"]), "Origin": APP}
    )
    assert me.status_code == 200
    assert_cors_for(me)
    refused = await server.client.get("/api/v1/me", headers={"Origin": APP})
    assert_error(refused, 401, "unauthenticated")
    assert_cors_for(refused)
    missing = await server.client.get("/api/v1/no-such-route", headers={"Origin": APP})
    assert missing.status_code == 404
    assert_cors_for(missing)
    malformed = await server.client.post(
        "/api/v1/auth/login",
        content=b"{not json",
        headers={"Origin": APP, "Content-Type": "application/json"},
    )
    assert_error(malformed, 400, "malformed_json")
    assert_cors_for(malformed)


async def test_hls_responses_carry_cors_headers_for_an_allowed_origin(
    server: RunningServer,
) -> None:
    response = await server.client.get(hls_path(server), headers={"Origin": APP})
    assert response.status_code == 404
    assert_cors_for(response)
    forbidden = await server.client.get(f"/hls/{TRACK}/1/master.m3u8", headers={"Origin": APP})
    assert forbidden.status_code == 403
    assert_cors_for(forbidden)


async def test_other_origins_get_no_cors_headers(server: RunningServer) -> None:
    for origin in ("https://evil.example", "https://app.example.evil", "http://app.example"):
        response = await server.client.options("/api/v1/me", headers=preflight("GET", origin))
        assert response.status_code != 204
        assert_no_cors(response)
        for path in ("/api/v1/me", hls_path(server)):
            response = await server.client.get(path, headers={"Origin": origin})
            assert_no_cors(response)
            assert "origin" in listed(response, "vary")  # a cache must not reuse it elsewhere
    same_origin = await server.client.get("/api/v1/me")  # no Origin header at all
    assert_no_cors(same_origin)
    assert "origin" in listed(same_origin, "vary")


async def test_routes_outside_the_api_and_hls_are_left_alone(server: RunningServer) -> None:
    response = await server.client.get("/health", headers={"Origin": APP})
    assert response.status_code == 200
    assert_no_cors(response)
    assert "origin" not in listed(response, "vary")


async def test_no_origin_is_allowed_by_default(tmp_path: Path) -> None:
    async with serving(fast_settings(tmp_path)) as server:
        response = await server.client.options("/api/v1/me", headers=preflight("GET"))
        assert response.status_code != 204
        assert_no_cors(response)
        assert_no_cors(await server.client.get(hls_path(server), headers={"Origin": APP}))


async def test_a_wildcard_allows_any_origin(tmp_path: Path) -> None:
    async with serving(fast_settings(tmp_path, cors_origins="*")) as server:
        response = await server.client.options(
            hls_path(server), headers=preflight("GET", "https://anyone.example")
        )
        assert_allowed_preflight(response, "*")
        response = await server.client.get(
            hls_path(server), headers={"Origin": "https://anyone.example"}
        )
        assert_cors_for(response, "*")


def test_cors_origins_parse_good_values(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        environ={"VEZA_CORS_ORIGINS": "HTTPS://App.Example:443/, http://localhost:5173,,"},
    )
    assert settings.cors_origins == ("https://app.example", "http://localhost:5173")
    config = tmp_path / "veza.toml"
    config.write_text('cors_origins = ["http://[::1]:8080", "*"]\n')
    assert load_settings(config, environ={}).cors_origins == ("http://[::1]:8080", "*")
    assert load_settings(None, environ={}).cors_origins == ()


@pytest.mark.parametrize(
    "value",
    ["app.example", "https://app.example/path", "null", "ftp://app.example", "https://a.example?q"],
)
def test_cors_origins_refuse_bad_values_in_one_line(value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(None, environ={"VEZA_CORS_ORIGINS": f"https://ok.example,{value}"})
    message = str(raised.value)
    assert "VEZA_CORS_ORIGINS" in message and "expected" in message and "\n" not in message
