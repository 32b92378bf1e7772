"""WebSocket clients for tests: trio-websocket over loopback against the real `/ws`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from tests.support.accounts import bearer
from tests.support.server import RunningServer

WAIT_S = 10  # no frame expected takes this long; a test that waits longer has failed


class Reachable(Protocol):
    """A server at a URL: one in this process (RunningServer) or a `veza serve` child."""

    @property
    def url(self) -> str: ...


async def group(server: RunningServer, owner: dict[str, Any], *members: dict[str, Any]) -> str:
    """A group conversation made by `owner` over REST with `members` (registration bodies)."""
    response = await server.client.post(
        "/api/v1/conversations",
        json={"kind": "group", "title": "band", "member_ids": [m["user"]["id"] for m in members]},
        headers=bearer(owner["access_token"]),
    )
    assert response.status_code == 201, response.text
    conversation_id: str = response.json()["id"]
    return conversation_id


def ws_url(server: Reachable) -> str:
    return server.url.replace("http://", "ws://") + "/ws"


class Client:
    """One socket: `send` a frame (a dict, or raw text/bytes), `next` the next frame (server
    pings skipped unless asked), `expect` the next frame of a type."""

    def __init__(self, socket: WebSocketConnection, ignore: frozenset[str]) -> None:
        self.socket = socket
        self.ready: dict[str, Any] = {}
        self.ignore = ignore  # frame types `next` skips (server pings by default)

    async def send(self, frame: dict[str, Any] | str | bytes) -> None:
        await self.socket.send_message(
            frame if isinstance(frame, str | bytes) else json.dumps(frame)
        )

    async def next(self, *, pings: bool = False) -> dict[str, Any]:
        with trio.fail_after(WAIT_S):
            while True:
                frame: dict[str, Any] = json.loads(await self.socket.get_message())
                if frame["type"] not in self.ignore or (pings and frame["type"] == "ping"):
                    return frame

    async def expect(self, type_: str, /, **fields: Any) -> dict[str, Any]:
        """The next frame, which must be of type `type_` (and carry `fields`)."""
        frame = await self.next()
        assert frame["type"] == type_, frame
        for name, value in fields.items():
            assert frame[name] == value, frame
        return frame

    async def presence_of(self, user_id: str) -> str:
        """The next presence told of `user_id`: a `presence` frame or its entry in a
        `presences` one (the server gathers changes); other users' are skipped."""
        while True:
            frame = await self.next()
            assert frame["type"] in ("presence", "presences"), frame
            for told in frame["users"] if frame["type"] == "presences" else [frame]:
                if told["user_id"] == user_id:
                    status: str = told["status"]
                    return status

    async def closed(self) -> int:
        """Read until the server closes the socket; its close code."""
        with trio.fail_after(WAIT_S), pytest.raises(ConnectionClosed) as closed:
            while True:
                await self.socket.get_message()
        code = closed.value.reason.code
        assert code is not None
        return code


@asynccontextmanager
async def connect(
    server: Reachable,
    token: str | None = None,
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
    by_frame: bool = False,
    wait_ready: bool = True,
    queue: int = 64,
    ignore: frozenset[str] = frozenset({"ping"}),
) -> AsyncIterator[Client]:
    """A socket to the server's /ws, authenticated with `token` by header (or by a first `auth`
    frame with `by_frame`), once `ready` arrived unless `wait_ready` is false."""
    extra = list(headers or [])
    if token is not None and not by_frame:
        extra.append((b"authorization", f"Bearer {token}".encode()))
    async with open_websocket_url(
        ws_url(server), extra_headers=extra, message_queue_size=queue
    ) as socket:
        client = Client(socket, ignore)
        if token is not None and by_frame:
            await client.send({"type": "auth", "token": token})
        if token is not None and wait_ready:
            client.ready = await client.expect("ready")
        yield client
