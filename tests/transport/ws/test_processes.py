"""Two servers on one PostgreSQL database are one hub: messages, typing, receipts and session
ends reach sockets held by the other server, through the event bus's LISTEN/NOTIFY relay."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from tests.support import eventually
from tests.support.accounts import bearer, register
from tests.support.chat import backend_settings
from tests.support.process import ServeProcess
from tests.support.server import serving
from tests.support.ws import Client, connect
from veza.transport.ws.hub import websocket_hub


async def test_two_servers_on_one_postgres_are_one_hub(tmp_path: Path) -> None:
    async with (
        backend_settings(tmp_path, "postgresql", ws_delivered_flush_seconds=0.05) as settings,
        serving(settings) as one,
        serving(settings) as two,
    ):
        alice, bob = await register(one.client, "alice"), await register(two.client, "bob")
        response = await one.client.post(
            "/api/v1/conversations",
            json={"kind": "group", "title": "t", "member_ids": [bob["user"]["id"]]},
            headers=bearer(alice["access_token"]),
        )
        chat = response.json()["id"]
        quiet = frozenset({"ping", "presence", "presences", "ack", "event"})
        async with (
            connect(one, alice["access_token"], ignore=quiet) as a,
            connect(two, bob["access_token"], ignore=quiet | {"receipt"}) as b,
        ):
            await a.send({"type": "send", "conversation_id": chat, "body": "hi", "client_id": "1"})
            assert (await b.expect("message"))["message"]["body"] == "hi"  # server two's socket
            await a.expect("message")
            # Bob's socket on server two received it: his delivered mark, told to alice on one.
            await a.expect("receipt", kind="delivered", user_id=bob["user"]["id"], seq=1)
            await b.send({"type": "read", "conversation_id": chat, "seq": 1})
            await a.expect("receipt", kind="read", user_id=bob["user"]["id"], seq=1)
            await b.send({"type": "typing", "conversation_id": chat, "active": True})
            typing = await a.expect("typing", conversation_id=chat)
            assert typing["typing"] == [bob["user"]["id"]]
            # Alice starts on server one, whose owner had not heard of bob: the owners settle
            # on one set, which both see.
            await a.send({"type": "typing", "conversation_id": chat, "active": True})
            both = sorted([alice["user"]["id"], bob["user"]["id"]])
            for client in (a, b):
                while (await client.expect("typing", conversation_id=chat))["typing"] != both:
                    pass
            # Alice logs out through server two: her socket on server one closes.
            await two.client.post("/api/v1/auth/logout", headers=bearer(alice["access_token"]))
            assert await a.closed() == 1008


@pytest.mark.slow
async def test_presence_crosses_servers(tmp_path: Path) -> None:
    """The two owners' settling is tested on one bus (tests/chat/test_presence.py); here, that
    their words cross the relay both ways."""
    async with (
        backend_settings(tmp_path, "postgresql", presence_offline_grace_seconds=0.2) as settings,
        serving(settings) as one,
        serving(settings) as two,
    ):
        alice, bob = await direct_pair(one.client, two.client)
        alice_id = alice["user"]["id"]
        async with connect(two, bob["access_token"], ignore=ONLY_PRESENCE) as b:
            async with connect(one, alice["access_token"]):
                assert await b.presence_of(alice_id) == "online"
                async with connect(two, alice["access_token"]):
                    pass  # her second device, on server two, comes and goes
            while await b.presence_of(alice_id) != "offline":
                pass  # server two's word, and server one's answer


@pytest.mark.slow
async def test_presence_of_a_user_held_by_the_other_server(tmp_path: Path) -> None:
    """Alice's socket is on server one, bob's on server two, which starts after her socket
    opened (it asks server one): bob's ready names her, and her changes reach him; when server
    one shuts down, bob hears her offline at once (her reconnect would be elsewhere)."""
    async with (
        backend_settings(tmp_path, "postgresql", presence_offline_grace_seconds=0.2) as settings,
        serving(settings) as one,
    ):
        alice, bob = await direct_pair(one.client, one.client)
        alice_id = alice["user"]["id"]
        async with connect(one, alice["access_token"]) as a, serving(settings) as two:

            async def answered() -> bool:
                return websocket_hub(two.app).presence.status(alice_id) == "online"

            # Server two asked server one as it started; a socket opened before the answer came
            # would hear her in a presence frame just after ready instead.
            await eventually(answered)
            async with connect(two, bob["access_token"], ignore=ONLY_PRESENCE) as b:
                assert b.ready["present"] == [{"user_id": alice_id, "status": "online"}]
                await a.send({"type": "presence", "status": "away"})
                await becomes(b, alice_id, "away", "online")
                await a.send({"type": "presence", "status": "online"})
                await becomes(b, alice_id, "online", "away")
                await a.socket.aclose()
                await becomes(b, alice_id, "offline", "online")  # once her grace is over
                async with connect(one, alice["access_token"]) as again:
                    await becomes(b, alice_id, "online", "offline")
                    one.shutdown.set()  # server one stops: its sockets' word goes with it
                    assert await again.closed() == 1001
                    await becomes(b, alice_id, "offline", "online")


@pytest.mark.slow
async def test_a_crashed_servers_users_go_offline_on_the_other(tmp_path: Path) -> None:
    """A `veza serve` killed outright tells nobody: the other server drops what it said of its
    users once it has missed three of its beats (here 0.5 s each, 10 s by default): silent for
    1.75 s."""
    beat = {"presence_beat_seconds": 0.5, "presence_offline_grace_seconds": 0.2}
    async with (
        backend_settings(tmp_path, "postgresql", **beat) as settings,
        serving(settings) as one,
    ):
        start = partial(
            ServeProcess,
            settings.data_dir,  # shared, and with it the key tokens are signed with
            VEZA_DATABASE_URL=settings.database_url,
            VEZA_PRESENCE_BEAT_SECONDS="0.5",
        )
        two = await trio.to_thread.run_sync(start)
        try:
            alice, bob = await direct_pair(one.client, one.client)
            alice_id = alice["user"]["id"]
            async with (
                connect(one, bob["access_token"], ignore=ONLY_PRESENCE) as b,
                connect(two, alice["access_token"], ignore=ONLY_PRESENCE),
            ):
                await becomes(b, alice_id, "online", "offline")  # two's word
                two.kill()  # SIGKILL: no shutdown, no word
                killed = trio.current_time()
                await becomes(b, alice_id, "offline", "online")
                assert trio.current_time() - killed < 5  # 1.75 s silent at most, not forever
        finally:
            two.kill()


# What the presence tests' clients skip: everything but presence frames and ready.
ONLY_PRESENCE = frozenset({"ping", "event", "typing", "message", "receipt", "ack"})


async def direct_pair(
    alice_at: httpx.AsyncClient, bob_at: httpx.AsyncClient
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Alice and bob, registered through these servers' clients, in a direct conversation."""
    alice, bob = await register(alice_at, "alice"), await register(bob_at, "bob")
    response = await alice_at.post(
        "/api/v1/conversations",
        json={"kind": "direct", "member_ids": [bob["user"]["id"]]},
        headers=bearer(alice["access_token"]),
    )
    assert response.status_code == 201, response.text
    return alice, bob


async def becomes(client: Client, user_id: str, status: str, before: str) -> None:
    """The user's presence, as the client hears it, goes from `before` to `status` (a server
    may repeat a status unchanged: one that learnt it as the socket opened)."""
    while (told := await client.presence_of(user_id)) != status:
        assert told == before, told
