"""Two `veza serve` on one PostgreSQL are one hub for WebSocket clients: a chat message sent to
one reaches sockets held by the other, also across a LISTEN connection dropped by the server,
a session revoked through one closes its sockets on the other, and a playlist edited through
one is seen changing by a socket on the other."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support import eventually, require_postgres
from tests.support.accounts import FAST, bearer, register
from tests.support.playlists import account, add, create_playlist, invite, read, ready_track
from tests.support.postgres import postgres_schema
from tests.support.server import RunningServer, make_settings, serving
from tests.support.ws import connect, group

SECRET = "one deployment, one signing secret for every process"


@asynccontextmanager
async def two_servers(tmp_path: Path) -> AsyncIterator[tuple[RunningServer, RunningServer]]:
    url = require_postgres()
    async with postgres_schema(url) as database, AsyncExitStack() as stack:
        row = await database.fetch_one("SELECT current_schema() AS schema")
        assert row is not None
        shared = f"{url}?search_path={row['schema']}"
        servers = [
            await stack.enter_async_context(
                serving(
                    make_settings(tmp_path / name, database_url=shared, secret_key=SECRET, **FAST)
                )
            )
            for name in ("a", "b")
        ]
        yield servers[0], servers[1]


async def test_a_message_sent_to_one_process_reaches_sockets_on_the_other(tmp_path: Path) -> None:
    async with two_servers(tmp_path) as (a, b):
        alice, bob = await register(a.client, "alice"), await register(a.client, "bob")
        conversation = await group(a, alice, bob)
        async with (
            connect(a, alice["access_token"]) as on_a,
            connect(b, bob["access_token"]) as on_b,
        ):
            for n in range(5):
                await on_a.send(
                    {
                        "type": "send",
                        "conversation_id": conversation,
                        "body": f"m{n}",
                        "client_id": f"c{n}",
                    }
                )
            bodies = []
            while len(bodies) < 5:
                frame = await on_b.next()
                if frame["type"] == "message":
                    bodies.append((frame["message"]["seq"], frame["message"]["body"]))
            assert bodies == [(n + 1, f"m{n}") for n in range(5)]


@pytest.mark.slow
async def test_a_logout_through_one_process_closes_the_sessions_sockets_on_the_other(
    tmp_path: Path,
) -> None:
    async with two_servers(tmp_path) as (a, b):
        alice = await register(a.client, "alice")
        async with connect(b, alice["access_token"]) as on_b:
            response = await a.client.post(
                "/api/v1/auth/logout", headers=bearer(alice["access_token"])
            )
            assert response.status_code == 204
            assert await on_b.closed() == 1008


@pytest.mark.slow
async def test_sockets_on_a_process_whose_listen_connection_dropped_catch_up(
    tmp_path: Path,
) -> None:
    async with two_servers(tmp_path) as (a, b):
        alice, bob = await register(a.client, "alice"), await register(a.client, "bob")
        conversation = await group(a, alice, bob)
        relay = b.services.relay
        assert relay is not None
        async with (
            connect(a, alice["access_token"]) as on_a,
            connect(b, bob["access_token"]) as on_b,
        ):
            await send(on_a, conversation, 1)
            assert await next_message(on_b) == (1, "m1")
            await a.store.database.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name LIKE ?",
                (f"veza events %{relay.process_id}",),
            )
            await send(on_a, conversation, 2)  # perhaps while b was not listening

            async def listening_again() -> bool:
                return relay.resyncs == 1

            await eventually(listening_again)
            await send(on_a, conversation, 3)
            # m2 from the store (the socket resynchronised), m3 through the relay: each once,
            # in order, whether or not m2 was sent before b listened again.
            assert [await next_message(on_b), await next_message(on_b)] == [(2, "m2"), (3, "m3")]


async def send(client: Any, conversation: str, n: int) -> None:
    await client.send(
        {"type": "send", "conversation_id": conversation, "body": f"m{n}", "client_id": f"c{n}"}
    )


async def next_message(client: Any) -> tuple[int, str]:
    while True:
        frame = await client.next()
        if frame["type"] == "message":
            return frame["message"]["seq"], frame["message"]["body"]


@pytest.mark.slow
async def test_an_edit_made_through_one_process_reaches_a_playlist_open_on_the_other(
    tmp_path: Path,
) -> None:
    async with two_servers(tmp_path) as (a, b):
        owner, editor = await account(a, "owner"), await account(a, "editor")
        track = await ready_track(a, owner, "song")
        playlist = (await create_playlist(a.client, owner, "together", "private"))["id"]
        await invite(a.client, owner, playlist, editor, "editor")
        async with connect(b, owner.token, ignore=frozenset({"ping", "presence"})) as on_b:
            await on_b.send({"type": "subscribe", "topic": f"playlist:{playlist}"})
            await on_b.expect("subscribed", topic=f"playlist:{playlist}")
            [entry] = await add(a.client, editor, playlist, [track])  # through the other one
            frame = await on_b.expect("event", name="playlist.changed")
            assert frame["data"]["playlist_id"] == playlist
            assert frame["data"]["by"] == editor.user_id
            assert frame["data"]["entry_ids"] == [entry["id"]]
            assert frame["data"]["version"] == (await read(b.client, owner, playlist))["version"]
