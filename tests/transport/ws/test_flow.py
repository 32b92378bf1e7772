"""Flow over real sockets: a slow consumer is closed with 1013 while the others go on, with its
queue bounded; a socket dropped by the bus for lagging resynchronises from the store."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import trio
import trio.lowlevel
from trio_websocket import ConnectionClosed

from tests.support.accounts import bearer, fast_settings, register
from tests.support.server import RunningServer, serving
from tests.support.ws import connect
from veza.chat import MessagePosted, MessageRow
from veza.events import Event, topic


@dataclass(frozen=True)
class Padding(Event):
    """A bulky event for these tests (any event on a user's topic reaches their sockets)."""

    type: ClassVar[str] = "test.padding"
    n: int
    pad: str


def socket_of(server: RunningServer, user_id: str) -> Any:
    hub = server.app.extensions["veza.ws"]
    (found,) = [s for s in hub.sockets if s.user_id == user_id]
    return found


async def test_a_slow_consumer_is_closed_with_1013_and_the_others_go_on(tmp_path: Path) -> None:
    size = 8
    async with serving(fast_settings(tmp_path, ws_outbound_queue_size=size)) as server:
        fast = await register(server.client, "fast")
        slow = await register(server.client, "slow")
        bus = server.services.events
        # `queue=1`: the slow client's library holds one message and then stops reading the
        # socket, so the kernel buffers fill and the server's writer blocks.
        async with (
            connect(server, fast["access_token"]) as quick,
            connect(server, slow["access_token"], queue=1),
        ):
            laggard = socket_of(server, slow["user"]["id"])
            pad = "x" * 60_000
            sent = 0
            while laggard.outbound.closing is None:
                assert sent < 2_000, "the slow socket was never closed"
                for _ in range(4):  # a few at a time: the bus's own queue is not the bound here
                    for user in (fast, slow):
                        # Delivered as the relay delivers another process's events: bulky
                        # ones could not cross processes (NOTIFY's 8,000 bytes), nor be published.
                        bus.deliver(topic("user", user["user"]["id"]), Padding(sent, pad))
                    sent += 1
                for _ in range(4):
                    assert (await quick.expect("event", name="test.padding"))["data"]["n"] < sent
                assert len(laggard.outbound) <= size  # never more than the bound
            assert laggard.outbound.closing.code == 1013
            assert len(laggard.outbound) == 0  # its backlog was dropped at once
            # The fast one got every event, in order, and goes on.
            bus.deliver(topic("user", fast["user"]["id"]), Padding(sent, "after"))
            assert (await quick.expect("event", name="test.padding"))["data"]["n"] == sent


async def test_the_slow_client_sees_its_backlog_then_1013(tmp_path: Path) -> None:
    async with serving(fast_settings(tmp_path, ws_outbound_queue_size=4)) as server:
        slow = await register(server.client, "slow")
        bus = server.services.events
        async with connect(server, slow["access_token"], queue=1) as client:
            laggard = socket_of(server, slow["user"]["id"])
            n = 0
            while laggard.outbound.closing is None:
                assert n < 4_000
                bus.deliver(topic("user", slow["user"]["id"]), Padding(n, "x" * 60_000))
                n += 1
                await (
                    trio.lowlevel.checkpoint()
                )  # the socket's forwarder takes it: the bus's bound is not hit
            received = 0
            with trio.fail_after(10):
                while True:
                    try:
                        frame = json.loads(await client.socket.get_message())
                    except ConnectionClosed as closed:
                        assert closed.reason.code == 1013
                        break
                    received += frame["type"] == "event"
            assert 0 < received < n  # what was written before; the rest was dropped


async def test_a_lagging_socket_resynchronises_its_conversations_from_the_store(
    tmp_path: Path,
) -> None:
    settings = fast_settings(tmp_path, ws_subscription_queue_size=2)
    async with serving(settings) as server:
        alice = await register(server.client, "alice")
        bob = await register(server.client, "bob")
        response = await server.client.post(
            "/api/v1/conversations",
            json={"kind": "group", "title": "t", "member_ids": [bob["user"]["id"]]},
            headers=bearer(alice["access_token"]),
        )
        chat = response.json()["id"]
        quiet = frozenset({"ping", "presence", "presences", "receipt", "event"})
        async with connect(server, bob["access_token"], ignore=quiet) as b:
            sender = await server.services.accounts.authenticate(alice["access_token"])
            await server.services.chat.post(sender, chat, "seen", "c1")
            assert (await b.expect("message"))["message"]["seq"] == 1
            # A message committed elsewhere whose event never came (another process's, while
            # the relay's LISTEN connection was down): written behind the API, not published.
            async with server.store.transaction() as tx:
                seq = await tx.chat.next_seq(chat, time.time())
                await tx.chat.insert_message(
                    MessageRow(
                        id=secrets.token_hex(16),
                        conversation_id=chat,
                        seq=seq,
                        sender_id=alice["user"]["id"],
                        client_id="c2",
                        body="missed",
                        created_at=time.time(),
                    )
                )
            # An event the socket's direct path declines gives its forwarder work: a message
            # not carried by its event (too long to travel inline), read from the store; here
            # seq 1 again, which the socket does not send twice. What comes right after it
            # queues behind it: more than the queue holds, and the bus drops bob's subscription.
            events = server.services.events
            events.publish(
                topic("conversation", chat),
                MessagePosted(conversation_id=chat, seq=1, message_id="m", message=None),
            )
            for n in range(3):
                events.publish(topic("user", bob["user"]["id"]), Padding(n, ""))
            # It subscribes again and sends what the store has after the last seq it sent.
            resent = await b.expect("message")
            assert (resent["message"]["seq"], resent["message"]["body"]) == (2, "missed")
            await server.services.chat.post(sender, chat, "live", "c3")
            assert (await b.expect("message"))["message"]["seq"] == 3


async def test_ready_is_the_first_frame_whatever_the_bus_carries_meanwhile(
    tmp_path: Path,
) -> None:
    # A socket subscribes before it reads who is online for `ready` (so no change is missed):
    # events that come in between wait for `ready`, then follow it.
    async with serving(fast_settings(tmp_path)) as server:
        ada = await register(server.client, "ada")
        user_topic = topic("user", ada["user"]["id"])

        async def pulse() -> None:
            n = 0
            while True:
                server.services.events.publish(user_topic, Padding(n, ""))
                n += 1
                await trio.sleep(0.0005)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(pulse)
            for _ in range(20):
                # `connect` fails unless the first frame (pings aside) is `ready`.
                async with connect(server, ada["access_token"]) as client:
                    assert client.ready["user_id"] == ada["user"]["id"]
                    assert (await client.next())["type"] == "event"  # and then the events
            nursery.cancel_scope.cancel()
