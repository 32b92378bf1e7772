"""/metrics stays small whatever clients send, is open only to the scrapers the settings admit,
and its in-flight gauge comes back down after requests that were cut off."""

from __future__ import annotations

import random
import re
import string
from pathlib import Path

import httpx
import pytest
import trio

from tests.support import eventually
from tests.support.accounts import fast_settings, register
from tests.support.raw_http import BOUNDARY, connect, upload_head
from tests.support.server import RunningServer, assert_error, make_settings, serving
from veza.config import Settings

TOKEN = "metrics-token-0123456789abcdef"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path)


def label_sets(text: str) -> set[str]:
    """The label sets of the request counter in a scrape."""
    return set(re.findall(r"^veza_http_requests_total(\{[^}]*\})", text, re.MULTILINE))


@pytest.mark.slow
async def test_random_methods_and_paths_add_a_bounded_number_of_label_sets(
    server: RunningServer,
) -> None:
    await server.client.get("/health")
    await server.client.get("/no/such/page")
    await server.client.get("/metrics")  # a scrape is counted once it is answered
    before = (await server.client.get("/metrics")).text
    rng = random.Random(5)

    def word(size: int) -> str:
        return "".join(rng.choice(string.ascii_uppercase) for _ in range(size))

    async def one(limiter: trio.CapacityLimiter) -> None:
        async with limiter:
            path = rng.choice(["/health", f"/{word(8).lower()}/{rng.randrange(10**9)}"])
            response = await server.client.request(word(rng.randrange(3, 12)), path)
            assert response.status_code in (404, 405)

    limiter = trio.CapacityLimiter(20)
    async with trio.open_nursery() as nursery:
        for _ in range(300):
            nursery.start_soon(one, limiter)
    after = (await server.client.get("/metrics")).text
    added = label_sets(after) - label_sets(before)
    assert added <= {
        '{method="other",route="unmatched",status="404"}',
        '{method="other",route="unmatched",status="405"}',
    }, added
    # One counter and one histogram per new (method, route): a few dozen lines at most, where
    # a label set per method name would add about twenty lines for each of 300 requests.
    grown = len(after.splitlines()) - len(before.splitlines())
    assert grown < 80, grown


async def test_metrics_are_refused_to_an_address_outside_metrics_allow(tmp_path: Path) -> None:
    async with serving(make_settings(tmp_path / "a", metrics_allow="10.0.0.0/8")) as server:
        assert_error(await server.client.get("/metrics"), 403, "forbidden")
        assert (await server.client.get("/health")).status_code == 200  # only /metrics
    async with serving(
        make_settings(tmp_path / "b", metrics_allow="10.0.0.0/8, 127.0.0.0/8")
    ) as server:
        response = await server.client.get("/metrics")
        assert response.status_code == 200
        assert "veza_http_requests_in_flight" in response.text


async def test_metrics_ask_for_the_token_when_one_is_set(tmp_path: Path) -> None:
    async with serving(make_settings(tmp_path, metrics_token=TOKEN)) as server:
        missing = await server.client.get("/metrics")
        assert_error(missing, 401, "unauthenticated")
        assert missing.headers["www-authenticate"].startswith("Bearer")
        wrong = await server.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"})
        assert_error(wrong, 401, "invalid_token")
        basic = await server.client.get("/metrics", auth=httpx.BasicAuth("prometheus", TOKEN))
        assert_error(basic, 401, "unauthenticated")
        right = await server.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert right.status_code == 200
        assert "veza_http_requests_total" in right.text


async def test_the_token_does_not_open_metrics_to_an_address_not_allowed(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, metrics_token=TOKEN, metrics_allow="192.0.2.0/24")
    async with serving(settings) as server:
        response = await server.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert_error(response, 403, "forbidden")


def in_flight(text: str) -> float:
    found = re.search(r"^veza_http_requests_in_flight (\S+)$", text, re.MULTILINE)
    assert found, text
    return float(found.group(1))


async def test_the_in_flight_gauge_comes_back_down_after_a_client_leaves_mid_upload(
    server: RunningServer,
) -> None:
    token = (await register(server.client, "ada"))["access_token"]
    assert in_flight((await server.client.get("/metrics")).text) == 1  # the scrape itself
    for _ in range(3):  # answered requests, refused ones among them, count once each
        await server.client.get("/api/v1/me", headers={"Authorization": "Bearer nope"})
        await server.client.get("/no/such/page")
    head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
    for _ in range(3):
        async with await connect(server) as stream:
            await stream.send_all(upload_head(token, 10 * 1024 * 1024) + head.encode())
            await stream.send_all(b"\x00" * (512 * 1024))

            async def uploading() -> bool:
                return in_flight((await server.client.get("/metrics")).text) == 2

            await eventually(uploading, limit_s=5)
        # The client is gone; the request was cancelled where it stood, in the middle of the body.

    async def settled() -> bool:
        return in_flight((await server.client.get("/metrics")).text) == 1

    await eventually(settled, limit_s=5)
