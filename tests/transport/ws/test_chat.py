"""Chat over real sockets: sends and acks, broadcasts in order, idempotent retries, resume and
resync, edits and deletes, receipts, rate limits, and a removed member cut off at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.support.accounts import bearer, fast_settings, register
from tests.support.chat import BACKENDS, backend_settings
from tests.support.server import RunningServer, serving
from tests.support.ws import Client, connect, group

# What chat tests do not look at.
QUIET = frozenset({"ping", "presence", "presences", "receipt", "typing"})
SENDER = QUIET | {"message"}  # a socket that only sends: its acks, not the broadcasts


@pytest.fixture(params=BACKENDS)
async def server(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[RunningServer]:
    async with (
        backend_settings(
            tmp_path, request.param, chat_resume_max_messages=5, ws_delivered_flush_seconds=0.05
        ) as settings,
        serving(settings) as running,
    ):
        yield running


@pytest.fixture
async def people(server: RunningServer) -> dict[str, dict[str, Any]]:
    return {name: await register(server.client, name) for name in ("alice", "bob", "carol")}


async def direct(server: RunningServer, owner: dict[str, Any], other: dict[str, Any]) -> str:
    response = await server.client.post(
        "/api/v1/conversations",
        json={"kind": "direct", "member_ids": [other["user"]["id"]]},
        headers=bearer(owner["access_token"]),
    )
    assert response.status_code in (200, 201), response.text
    conversation_id: str = response.json()["id"]
    return conversation_id


def send(conversation_id: str, body: str, client_id: str) -> dict[str, Any]:
    return {
        "type": "send",
        "conversation_id": conversation_id,
        "body": body,
        "client_id": client_id,
    }


async def messages(client: Client, count: int) -> list[dict[str, Any]]:
    """The next `count` message frames (acks and membership events skipped)."""
    found = []
    while len(found) < count:
        frame = await client.next()
        if frame["type"] == "message":
            found.append(frame["message"])
        else:
            assert frame["type"] in ("ack", "event"), frame
    return found


@pytest.mark.slow
async def test_a_send_is_acked_and_reaches_every_member(
    server: RunningServer, people: dict[str, dict[str, Any]]
) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    chat = await group(server, alice, bob, carol)
    async with (
        connect(server, alice["access_token"], ignore=QUIET) as a,
        connect(server, bob["access_token"], ignore=QUIET) as b,
    ):
        await a.send(send(chat, "hello", "c-1"))
        ack = await a.expect("ack", client_id="c-1")
        assert ack["message"]["seq"] == 1
        assert ack["message"]["body"] == "hello"
        assert ack["message"]["sender_id"] == alice["user"]["id"]
        (seen,) = await messages(b, 1)
        assert seen == ack["message"]
        (own,) = await messages(a, 1)  # the sender's sockets hear it too
        assert own == ack["message"]


@pytest.mark.slow
async def test_a_retried_send_gets_the_original_and_no_second_broadcast(
    server: RunningServer, people: dict[str, dict[str, Any]]
) -> None:
    alice, bob = people["alice"], people["bob"]
    chat = await group(server, alice, bob)
    async with (
        connect(server, alice["access_token"], ignore=QUIET) as a,
        connect(server, bob["access_token"], ignore=QUIET) as b,
    ):
        await a.send(send(chat, "once", "retry-me"))
        first = await a.expect("ack")
        await a.send(send(chat, "once", "retry-me"))  # the client never saw the ack, say
        while (again := await a.next())["type"] != "ack":
            pass
        assert again["message"] == first["message"]
        await a.send(send(chat, "next", "another"))
        seen = await messages(b, 2)
        assert [m["seq"] for m in seen] == [1, 2]
        assert [m["body"] for m in seen] == ["once", "next"]


@pytest.mark.slow
async def test_concurrent_senders_are_seen_in_seq_order_by_a_third_socket(
    server: RunningServer, people: dict[str, dict[str, Any]]
) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    chat = await group(server, alice, bob, carol)
    per_sender = 15
    async with (
        connect(server, alice["access_token"], ignore=QUIET) as a,
        connect(server, bob["access_token"], ignore=QUIET) as b,
        connect(server, carol["access_token"], ignore=QUIET) as c,
    ):

        async def burst(client: Client, name: str) -> None:
            for n in range(per_sender):
                await client.send(send(chat, f"{name} {n}", f"{name}-{n}"))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(burst, a, "alice")
            nursery.start_soon(burst, b, "bob")
        seen = await messages(c, 2 * per_sender)
    assert [m["seq"] for m in seen] == list(range(1, 2 * per_sender + 1))
    for name in ("alice", "bob"):  # each sender's own order kept
        bodies = [m["body"] for m in seen if m["body"].startswith(name)]
        assert bodies == [f"{name} {n}" for n in range(per_sender)]


@pytest.mark.slow
async def test_reconnect_and_resume_gets_the_missed_messages_in_order_or_a_resync(
    server: RunningServer, people: dict[str, dict[str, Any]]
) -> None:
    alice, bob = people["alice"], people["bob"]
    chat = await group(server, alice, bob)
    async with connect(server, alice["access_token"], ignore=SENDER) as a:
        async with connect(server, bob["access_token"], ignore=QUIET) as b:
            await a.send(send(chat, "m1", "m1"))
            await a.expect("ack")
            (seen,) = await messages(b, 1)
            last_seen = seen["seq"]
        for n in range(2, 5):
            await a.send(send(chat, f"m{n}", f"m{n}"))
            await a.expect("ack")
        async with connect(server, bob["access_token"], ignore=QUIET) as b:
            await b.send({"type": "resume", "conversation_id": chat, "after_seq": last_seen})
            missed = await messages(b, 3)
            assert [m["body"] for m in missed] == ["m2", "m3", "m4"]
            await a.send(send(chat, "m5", "m5"))  # live again, after the missed ones
            (live,) = await messages(b, 1)
            assert live["seq"] == 5
            # More missed than chat_resume_max_messages (5): refetch over REST.
            for n in range(6, 12):
                await a.send(send(chat, f"m{n}", f"m{n}"))
            await messages(b, 6)
            await b.send({"type": "resume", "conversation_id": chat, "after_seq": 1})
            await b.expect("resync", conversation_id=chat)


@pytest.mark.slow
async def test_edit_and_delete_frames_broadcast_the_changed_message(
    server: RunningServer, people: dict[str, dict[str, Any]]
) -> None:
    alice, bob = people["alice"], people["bob"]
    chat = await group(server, alice, bob)
    async with (
        connect(server, alice["access_token"], ignore=QUIET) as a,
        connect(server, bob["access_token"], ignore=QUIET) as b,
    ):
        await a.send(send(chat, "typo", "e1"))
        await messages(b, 1)
        await a.send({"type": "edit", "conversation_id": chat, "seq": 1, "body": "fixed"})
        (edited,) = await messages(b, 1)
        assert edited["body"] == "fixed" and edited["edited_at"] is not None
        await b.send({"type": "edit", "conversation_id": chat, "seq": 1, "body": "mine now"})
        await b.expect("error", code="forbidden")  # not the sender: refused, socket open
        await a.send({"type": "delete", "conversation_id": chat, "seq": 1})
        (deleted,) = await messages(b, 1)
        assert deleted["deleted"] is True and deleted["body"] == ""


@pytest.mark.slow
async def test_delivered_receipts_are_coalesced_and_read_receipts_broadcast(
    server: RunningServer, people: dict[str, dict[str, Any]]
) -> None:
    alice, bob = people["alice"], people["bob"]
    chat = await group(server, alice, bob)
    watching = frozenset({"ping", "presence", "presences", "message", "ack", "typing"})
    async with (
        connect(server, alice["access_token"], ignore=watching) as a,
        connect(server, bob["access_token"], ignore=QUIET) as b,
    ):
        for n in range(1, 11):
            await a.send(send(chat, f"m{n}", f"m{n}"))
        await messages(b, 10)
        delivered = []
        while not delivered or delivered[-1] < 10:
            receipt = await a.expect("receipt", kind="delivered", user_id=bob["user"]["id"])
            delivered.append(receipt["seq"])
        assert delivered == sorted(set(delivered))  # only forward, never repeated
        assert len(delivered) < 10  # gathered, not one per message
        await b.send({"type": "read", "conversation_id": chat, "seq": 7})
        await a.expect("receipt", kind="read", user_id=bob["user"]["id"], seq=7)
        await b.send({"type": "read", "conversation_id": chat, "seq": 3})  # older: no change
        await b.send({"type": "read", "conversation_id": chat, "seq": 8})
        await a.expect("receipt", kind="read", seq=8)
    conversations = await server.client.get(
        "/api/v1/conversations", headers=bearer(bob["access_token"])
    )
    (mine,) = conversations.json()["items"]
    assert (mine["delivered_seq"], mine["read_seq"], mine["unread_count"]) == (10, 8, 2)


@pytest.mark.slow
async def test_delivered_receipts_reach_the_sender_gathered_and_no_one_else(
    server: RunningServer, people: dict[str, dict[str, Any]]
) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    chat = await group(server, alice, bob, carol)
    others = {bob["user"]["id"]: 0, carol["user"]["id"]: 0}
    async with (
        connect(server, alice["access_token"], ignore=SENDER - {"receipt"}) as a,
        connect(
            server,
            bob["access_token"],
            ignore=frozenset({"ping", "presence", "presences", "message"}),
        ) as b,
        connect(server, carol["access_token"], ignore=QUIET | {"message"}) as c,
    ):
        await a.send(send(chat, "hello", "m1"))
        await a.expect("ack")
        while min(others.values()) < 1:  # one `receipts` for both, or a `receipt` each
            frame = await a.next()
            marks = frame["marks"] if frame["type"] == "receipts" else [frame]
            assert frame["type"] in ("receipt", "receipts") and frame["kind"] == "delivered"
            for mark in marks:
                others[mark["user_id"]] = max(others[mark["user_id"]], mark["seq"])
        # Bob sent nothing: his next frame is Carol's read, no delivered receipt before it.
        await c.send({"type": "read", "conversation_id": chat, "seq": 1})
        await b.expect("receipt", kind="read", user_id=carol["user"]["id"], seq=1)
    assert others == {bob["user"]["id"]: 1, carol["user"]["id"]: 1}


@pytest.mark.slow
async def test_a_removed_member_stops_receiving_at_once(
    server: RunningServer, people: dict[str, dict[str, Any]]
) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    chat = await group(server, alice, bob, carol)
    side = await direct(server, alice, carol)
    async with (
        connect(server, alice["access_token"], ignore=QUIET) as a,
        connect(server, carol["access_token"], ignore=QUIET) as c,
        connect(server, bob["access_token"], ignore=QUIET) as b,
    ):
        response = await server.client.delete(
            f"/api/v1/conversations/{chat}/members/{carol['user']['id']}",
            headers=bearer(alice["access_token"]),
        )
        assert response.status_code == 204, response.text
        removed = await c.expect("event", name="member.removed")
        assert removed["data"]["user_id"] == carol["user"]["id"]
        await a.send(send(chat, "without carol", "g1"))
        await a.send(send(side, "just us", "d1"))
        (seen,) = await messages(b, 1)
        assert seen["body"] == "without carol"
        # Carol's next message is the direct one, published after the group's: she never got
        # the group's.
        (next_for_carol,) = await messages(c, 1)
        assert next_for_carol["body"] == "just us"
        await c.send(send(chat, "let me in", "c1"))
        await c.expect("error", code="not_a_member", client_id="c1")
        await c.send({"type": "typing", "conversation_id": chat, "active": True})
        await c.expect("error", code="not_a_member")


async def test_sends_over_the_rate_limit_get_an_error_with_retry_after(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path, chat_send_burst=2, chat_send_per_minute=1.0)
    async with serving(settings) as server:
        alice, bob = await register(server.client, "alice"), await register(server.client, "bob")
        chat = await group(server, alice, bob)
        async with connect(server, alice["access_token"], ignore=SENDER) as a:
            for n in range(2):
                await a.send(send(chat, f"m{n}", f"m{n}"))
                await a.expect("ack")
            await a.send(send(chat, "too many", "m2"))
            error = await a.expect("error", code="rate_limited", client_id="m2")
            assert error["retry_after"] >= 1


@pytest.mark.slow
async def test_a_conversation_made_after_connecting_reaches_the_socket(
    server: RunningServer, people: dict[str, dict[str, Any]]
) -> None:
    alice, bob = people["alice"], people["bob"]
    async with connect(server, bob["access_token"], ignore=QUIET) as b:
        chat = await group(server, alice, bob)
        added = await b.expect("event", name="member.added")
        assert added["data"]["conversation_id"] == chat
        async with connect(server, alice["access_token"], ignore=QUIET) as a:
            await a.send(send(chat, "welcome", "w1"))
            (seen,) = await messages(b, 1)
            assert seen["body"] == "welcome"
