"""The socket itself over real loopback WebSockets: authentication, origins, bad frames, the
heartbeat, slow consumers, session ends and the 1009 bound."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
from trio_websocket import ConnectionClosed, ConnectionRejected, open_websocket_url

from tests.support.accounts import bearer, fast_settings, register
from tests.support.server import RunningServer, serving
from tests.support.ws import Client, connect, ws_url


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    settings = fast_settings(tmp_path, ws_auth_timeout_seconds=0.5)
    async with serving(settings) as running:
        yield running


@pytest.fixture
async def alice(server: RunningServer) -> dict[str, Any]:
    return await register(server.client, "alice")


async def answers(client: Client) -> None:
    """The socket is alive and answering."""
    await client.send({"type": "ping"})
    await client.expect("pong")


async def test_a_token_in_the_header_authenticates(server: RunningServer, alice: dict[str, Any]) -> None:
    async with connect(server, alice["access_token"]) as client:
        assert client.ready["user_id"] == alice["user"]["id"]
        await answers(client)


async def test_a_first_auth_frame_authenticates(server: RunningServer, alice: dict[str, Any]) -> None:
    async with connect(server, alice["access_token"], by_frame=True) as client:
        assert client.ready["user_id"] == alice["user"]["id"]
        await answers(client)


@pytest.mark.parametrize("by_frame", [False, True])
async def test_a_bad_token_closes_with_1008(server: RunningServer, by_frame: bool) -> None:
    async with connect(server, "not-a-token", by_frame=by_frame, wait_ready=False) as client:
        assert await client.closed() == 1008


async def test_silence_instead_of_an_auth_frame_closes_with_1008(server: RunningServer) -> None:
    async with connect(server) as client:
        assert await client.closed() == 1008


async def test_another_first_frame_closes_with_1008(server: RunningServer) -> None:
    async with connect(server) as client:
        await client.send({"type": "ping"})
        assert await client.closed() == 1008
