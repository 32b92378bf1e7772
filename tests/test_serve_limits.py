"""Hypercorn's limits come from our settings: read and keep-alive timeouts, the header size,
the WebSocket message size. Checked over raw sockets against the real server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
from quart import websocket
from trio_websocket import ConnectionClosed, open_websocket_url

from tests.support.server import RunningServer, make_settings, serving

REQUEST = b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n"


@pytest.fixture
async def limited(tmp_path: Path) -> AsyncIterator[RunningServer]:
    settings = make_settings(
        tmp_path,
        http_read_timeout_seconds=1,
        http_keep_alive_timeout_seconds=0.5,
        http_max_header_bytes=2048,
        websocket_max_message_bytes=4096,
    )
    async with serving(settings) as server:
        yield server


async def connect(server: RunningServer) -> trio.SocketStream:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    return await trio.open_tcp_stream(host, int(port))


async def read_until_closed(stream: trio.SocketStream, limit_s: float = 5) -> bytes:
    """Everything the server sends until it closes the connection (fails if it never does)."""
    received = b""
    with trio.fail_after(limit_s):
        while chunk := await stream.receive_some(65536):
            received += chunk
    return received


@pytest.mark.slow
async def test_a_stalled_request_is_closed_after_the_read_timeout(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, http_read_timeout_seconds=1, http_keep_alive_timeout_seconds=30
    )
    async with serving(settings) as server, await connect(server) as stream:
        # Headers whole, the body cut short: a request in progress, then silence.
        await stream.send_all(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: test\r\n"
            b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"login"'
        )
        started = trio.current_time()
        await read_until_closed(stream)
        assert trio.current_time() - started >= 0.9


async def test_an_idle_keep_alive_connection_is_closed(limited: RunningServer) -> None:
    async with await connect(limited) as stream:
        await stream.send_all(REQUEST)
        answered = await read_until_closed(stream)
        assert answered.startswith(b"HTTP/1.1 200")


async def test_a_header_section_growing_past_the_limit_is_refused(limited: RunningServer) -> None:
    # The limit bounds what the server buffers while the header section is incomplete.
    async with await connect(limited) as stream:
        await stream.send_all(b"GET /health HTTP/1.1\r\nHost: test\r\nX-Padding: " + b"a" * 4096)
        answered = await read_until_closed(stream)
        assert answered.startswith((b"HTTP/1.1 431", b"HTTP/1.1 400")), answered[:40]
    async with await connect(limited) as stream:
        await stream.send_all(b"GET /health HTTP/1.1\r\nHost: test\r\nX-Padding: " + b"a" * 1024)
        await stream.send_all(b"\r\n\r\n")
        assert (await read_until_closed(stream)).startswith(b"HTTP/1.1 200")


async def test_a_websocket_message_over_the_limit_closes_the_socket_with_1009(
    limited: RunningServer,
) -> None:
    @limited.app.websocket("/test/echo")
    async def echo() -> None:
        while True:
            await websocket.send(await websocket.receive())

    url = limited.url.replace("http://", "ws://") + "/test/echo"
    async with open_websocket_url(url) as socket:
        await socket.send_message("a" * 4000)
        assert len(await socket.get_message()) == 4000
        await socket.send_message("a" * 5000)
        with trio.fail_after(5), pytest.raises(ConnectionClosed) as closed:
            await socket.get_message()
        assert closed.value.reason.code == 1009
