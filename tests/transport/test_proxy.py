"""Behind a reverse proxy: the URLs Veza hands out (public_url, else the request's own scheme and
host) and the client address, with X-Forwarded-* believed only from trusted proxies."""

from __future__ import annotations

import ipaddress
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support import require_tool
from tests.support.accounts import PASSWORD, bearer, fast_settings, register
from tests.support.server import RunningServer, serving
from tests.support.tracks import wait_for_track, write_music
from veza.config import ConfigError, load_settings
from veza.transport.proxy import TrustedProxies, parse_address


@pytest.fixture
async def track_id(tmp_path: Path) -> str:
    """A playable track in tmp_path/data, left there for the servers each test starts."""
    require_tool("ffmpeg")
    async with serving(fast_settings(tmp_path)) as server:
        track = await server.services.tracks.import_file(write_music(tmp_path / "a.wav", 1))
        assert (await wait_for_track(server, track.id)).status == "ready"
    return track.id


async def hls_url(server: RunningServer, track_id: str, **headers: str) -> str:
    user = await register(server.client, f"listener{uuid.uuid4().hex[:8]}")
    response = await server.client.get(
        f"/api/v1/tracks/{track_id}/stream",
        headers={**bearer(user["access_token"]), **headers},
    )
    assert response.status_code == 200, response.text
    url: str = response.json()["hls_url"]
    return url


@pytest.mark.slow
async def test_public_url_decides_the_url_whatever_the_request_says(
    tmp_path: Path, track_id: str
) -> None:
    # Loopback is trusted here too: not even a trusted proxy overrides public_url.
    settings = fast_settings(
        tmp_path, public_url="https://example.org/music/", trusted_proxies="127.0.0.1"
    )
    async with serving(settings) as server:
        expected = f"https://example.org/music/hls/{track_id}/1/master.m3u8?token="
        for headers in (
            {},
            {"Host": "evil.example"},
            {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"},
        ):
            url = await hls_url(server, track_id, **headers)
            assert url.startswith(expected), (headers, url)
        # The proxy strips the prefix: Veza serves the path without it, and not with it.
        parts = urlsplit(url)
        served = await server.client.get(parts.path.removeprefix("/music") + "?" + parts.query)
        assert served.status_code == 200
        assert served.text.startswith("#EXTM3U")
        assert (await server.client.get(parts.path + "?" + parts.query)).status_code == 404


@pytest.mark.slow
async def test_without_public_url_the_url_names_the_host_the_client_asked_for(
    tmp_path: Path, track_id: str
) -> None:
    """The decision documented in docs/security.md: with no public_url, a client's own Host
    header names the host of the URLs it is given (only that client reads them)."""
    async with serving(fast_settings(tmp_path)) as server:
        path = f"/hls/{track_id}/1/master.m3u8?token="
        assert (await hls_url(server, track_id)).startswith(server.url + path)
        named = await hls_url(server, track_id, Host="music.local:8080")
        assert named.startswith("http://music.local:8080" + path)
        # Not a host name at all: the address of our end of the connection instead.
        garbled = await hls_url(server, track_id, Host="evil.example/x?y=")
        assert garbled.startswith(server.url + path)


@pytest.mark.slow
async def test_forwarded_proto_and_host_are_believed_only_from_a_trusted_proxy(
    tmp_path: Path, track_id: str
) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "music.example"}
    path = f"/hls/{track_id}/1/master.m3u8?token="
    async with serving(fast_settings(tmp_path, trusted_proxies="127.0.0.1")) as server:
        assert (await hls_url(server, track_id, **forwarded)).startswith(
            "https://music.example" + path
        )
        host = urlsplit(server.url).netloc
        assert (await hls_url(server, track_id, **{"X-Forwarded-Proto": "https"})).startswith(
            f"https://{host}{path}"
        )
    for untrusted in ("", "10.0.0.0/8"):  # nobody, or a network loopback is not in
        settings = fast_settings(tmp_path, trusted_proxies=untrusted)
        async with serving(settings) as server:
            url = await hls_url(server, track_id, **forwarded)
            assert url.startswith(server.url + path), (untrusted, url)


async def session_address(server: RunningServer, username: str, **headers: str) -> str:
    await register(server.client, username)
    login = await server.client.post(
        "/api/v1/auth/login", json={"login": username, "password": PASSWORD}, headers=headers
    )
    assert login.status_code == 200, login.text
    sessions = await server.client.get(
        "/api/v1/me/sessions", headers=bearer(login.json()["access_token"])
    )
    current = [s for s in sessions.json()["items"] if s["current"]]
    assert len(current) == 1
    address: str = current[0]["address"]
    return address


async def test_the_client_address_is_the_right_most_untrusted_forwarded_one(
    tmp_path: Path,
) -> None:
    settings = fast_settings(tmp_path, trusted_proxies="127.0.0.1,10.0.0.0/8")
    async with serving(settings) as server:
        chain = "198.51.100.1, 203.0.113.9, 10.1.2.3"  # spoofed, the client, an inner proxy
        assert (
            await session_address(server, "user_a", **{"X-Forwarded-For": chain}) == "203.0.113.9"
        )
        assert await session_address(server, "user_b", **{"X-Forwarded-For": "2001:db8::7"}) == (
            "2001:db8::7"
        )
        assert await session_address(server, "user_c") == "127.0.0.1"  # the proxy itself asked
    async with serving(fast_settings(tmp_path)) as server:
        assert await session_address(server, "user_d", **{"X-Forwarded-For": chain}) == "127.0.0.1"


async def failed_logins(server: RunningServer, forwarded_for: str, count: int) -> list[int]:
    statuses = []
    for _ in range(count):
        response = await server.client.post(
            "/api/v1/auth/login",
            json={"login": "nobody", "password": "wrong password"},
            headers={"X-Forwarded-For": forwarded_for},
        )
        statuses.append(response.status_code)
    return statuses


async def test_rate_limits_count_per_forwarded_client_only_behind_a_trusted_proxy(
    tmp_path: Path,
) -> None:
    limits: dict[str, Any] = {"auth_rate_address_burst": 2, "auth_rate_address_per_minute": 0.01}
    async with serving(fast_settings(tmp_path, trusted_proxies="127.0.0.1", **limits)) as server:
        assert await failed_logins(server, "203.0.113.1", 3) == [401, 401, 429]
        assert await failed_logins(server, "203.0.113.2", 1) == [401]  # another client
    async with serving(fast_settings(tmp_path, **limits)) as server:
        # Untrusted: a made-up X-Forwarded-For does not buy a fresh bucket.
        assert await failed_logins(server, "203.0.113.1", 2) == [401, 401]
        assert await failed_logins(server, "203.0.113.2", 1) == [429]


def headers(**values: str) -> list[tuple[bytes, bytes]]:
    return [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in values.items()]


def test_resolving_forwarded_chains() -> None:
    proxies = TrustedProxies(
        [ipaddress.ip_network("127.0.0.1"), ipaddress.ip_network("10.0.0.0/8")]
    )
    assert proxies.resolve("192.0.2.1", headers(x_forwarded_for="203.0.113.9")) is None
    resolved = proxies.resolve("127.0.0.1", headers(x_forwarded_for="1.1.1.1, 10.0.0.2, 10.0.0.3"))
    assert resolved is not None and resolved.client == "1.1.1.1"
    # Every hop trusted: the left-most one is the client.
    resolved = proxies.resolve("127.0.0.1", headers(x_forwarded_for="10.0.0.2, 10.0.0.3"))
    assert resolved is not None and resolved.client == "10.0.0.2"
    # An unreadable entry: the last address we could vouch for stands.
    resolved = proxies.resolve("127.0.0.1", headers(x_forwarded_for="1.1.1.1, junk, 10.0.0.3"))
    assert resolved is not None and resolved.client == "10.0.0.3"
    # Ports, brackets and IPv4 mapped into IPv6, as proxies write them.
    resolved = proxies.resolve("::ffff:127.0.0.1", headers(x_forwarded_for="[2001:db8::1]:443"))
    assert resolved is not None and resolved.client == "2001:db8::1"
    assert parse_address("203.0.113.9:5100") == ipaddress.ip_address("203.0.113.9")
    # Two appending proxies: the scheme and host the outer one saw, not what the client claims
    # (left of it) nor what the inner one saw (right of it).
    resolved = proxies.resolve(
        "127.0.0.1",
        headers(
            x_forwarded_for="1.1.1.1, 10.0.0.2",
            x_forwarded_proto="http, https, http",
            x_forwarded_host="evil.example, music.example, inner:8080",
        ),
    )
    assert resolved is not None
    assert (resolved.client, resolved.scheme, resolved.host) == (
        "1.1.1.1",
        "https",
        "music.example",
    )
    # One proxy that overwrites: its one value; values that are not a scheme or host: ignored.
    resolved = proxies.resolve(
        "10.9.9.9",
        headers(x_forwarded_proto="gopher", x_forwarded_host="a b"),
    )
    assert resolved is not None and resolved.scheme is None and resolved.host is None


def test_proxy_settings_parse_good_values(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        environ={
            "VEZA_PUBLIC_URL": "HTTPS://Example.org:443/music/",
            "VEZA_TRUSTED_PROXIES": " 127.0.0.1, 10.0.0.0/8,,::1 ",
        },
    )
    assert settings.public_url == "https://example.org/music"
    assert settings.trusted_proxies == tuple(
        ipaddress.ip_network(n) for n in ("127.0.0.1/32", "10.0.0.0/8", "::1/128")
    )
    config = tmp_path / "veza.toml"
    config.write_text(
        'public_url = "http://[2001:db8::1]:8080"\ntrusted_proxies = ["192.168.0.0/16"]\n'
    )
    settings = load_settings(config, environ={})
    assert settings.public_url == "http://[2001:db8::1]:8080"
    assert settings.trusted_proxies == (ipaddress.ip_network("192.168.0.0/16"),)
    assert load_settings(None, environ={"VEZA_PUBLIC_URL": ""}).public_url == ""


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("VEZA_PUBLIC_URL", "example.org"),
        ("VEZA_PUBLIC_URL", "ftp://example.org"),
        ("VEZA_PUBLIC_URL", "https://example.org/music?x=1"),
        ("VEZA_PUBLIC_URL", "https://user@example.org"),
        ("VEZA_PUBLIC_URL", "https://example.org:99999"),
        ("VEZA_PUBLIC_URL", "https://exa mple.org"),
        ("VEZA_TRUSTED_PROXIES", "127.0.0.1,proxy.lan"),
        ("VEZA_TRUSTED_PROXIES", "10.0.0.1/8"),
        ("VEZA_TRUSTED_PROXIES", "10.0.0.256"),
    ],
)
def test_proxy_settings_refuse_bad_values_in_one_line(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(None, environ={name: value})
    message = str(raised.value)
    assert name in message and "expected" in message and "\n" not in message


def test_a_bad_trusted_proxy_in_the_config_file_names_the_setting(tmp_path: Path) -> None:
    config = tmp_path / "veza.toml"
    config.write_text("trusted_proxies = [10]\n")
    with pytest.raises(ConfigError, match="trusted_proxies"):
        load_settings(config, environ={})
