"""Conversations over real HTTP, on SQLite and PostgreSQL: direct and group conversations,
membership rules, messages (idempotent sends, history, edits, tombstones, body rules), read
receipts and unread counts, the send rate limit, and the events that follow each commit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.support.chat import (
    BACKENDS,
    User,
    backend_settings,
    make_role,
    open_conversation,
    posted,
    send,
    user,
)
from tests.support.clock import Clock
from tests.support.server import RunningServer, assert_error
from veza.chat import (
    MemberAdded,
    MemberRemoved,
    MessageChanged,
    MessagePosted,
    ReceiptMoved,
    conversation_topic,
    user_topic,
)
from veza.config import Settings
from veza.events import Delivery

UNKNOWN_ID = "0" * 32


@pytest.fixture(params=BACKENDS)
async def settings(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Settings]:
    async with backend_settings(tmp_path, request.param, chat_edit_window_seconds=60) as found:
        yield found


@pytest.fixture
async def trio_users(server: RunningServer) -> tuple[User, User, User]:
    return (
        await user(server.client, "alice"),
        await user(server.client, "bob"),
        await user(server.client, "carol"),
    )


async def history(server: RunningServer, who: User, cid: str, **params: Any) -> dict[str, Any]:
    response = await server.client.get(
        f"/api/v1/conversations/{cid}/messages", params=params, headers=who.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def mine(server: RunningServer, who: User, **params: Any) -> dict[str, Any]:
    response = await server.client.get("/api/v1/conversations", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.slow
async def test_a_direct_conversation_is_one_per_pair(
    server: RunningServer, trio_users: tuple[User, User, User]
) -> None:
    alice, bob, carol = trio_users
    first = await open_conversation(server.client, alice, "direct", [bob])
    assert first["kind"] == "direct" and first["title"] is None and first["peer_id"] == bob.id
    assert sorted(m["user_id"] for m in first["members"]) == sorted([alice.id, bob.id])
    assert {m["role"] for m in first["members"]} == {"member"}
    assert first["edit_window_seconds"] == 60  # the setting, for clients to show Edit that long
    again = await open_conversation(server.client, alice, "direct", [bob], status=200)
    assert again["id"] == first["id"]
    # From the other side, naming oneself too: the same pair, the same conversation.
    reverse = await open_conversation(server.client, bob, "direct", [alice, bob], status=200)
    assert reverse["id"] == first["id"] and reverse["peer_id"] == alice.id
    other = await open_conversation(server.client, alice, "direct", [carol])
    assert other["id"] != first["id"]
    for member_ids, title in (
        ([], None),  # nobody else
        ([alice.id], None),  # only oneself
        ([bob.id, carol.id], None),  # two others
        ([UNKNOWN_ID], None),  # nobody by that id
        (["not an id"], None),
        ([bob.id], "a title"),  # only groups have one
    ):
        payload: dict[str, Any] = {"kind": "direct", "member_ids": member_ids}
        if title:
            payload["title"] = title
        refused = await server.client.post(
            "/api/v1/conversations", json=payload, headers=alice.headers
        )
        assert_error(refused, 422, "validation_failed")


async def test_concurrent_creations_of_one_direct_conversation_give_one(
    server: RunningServer, trio_users: tuple[User, User, User]
) -> None:
    alice, bob, _ = trio_users
    answers: list[tuple[int, str]] = []

    async def create(who: User, other: User) -> None:
        response = await server.client.post(
            "/api/v1/conversations",
            json={"kind": "direct", "member_ids": [other.id]},
            headers=who.headers,
        )
        answers.append((response.status_code, response.json()["id"]))

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(create, alice, bob)
            nursery.start_soon(create, bob, alice)
    assert sorted(status for status, _ in answers) == [200] * 5 + [201]
    assert len({cid for _, cid in answers}) == 1


@pytest.mark.slow
async def test_group_admins_manage_members(
    server: RunningServer, trio_users: tuple[User, User, User]
) -> None:
    alice, bob, carol = trio_users
    dave = await user(server.client, "dave")
    group = await open_conversation(server.client, alice, "group", [bob], title="  Band  ")
    cid = group["id"]
    assert group["title"] == "Band" and group["role"] == "admin"
    assert {m["user_id"]: m["role"] for m in group["members"]} == {
        alice.id: "admin",
        bob.id: "member",
    }
    members = f"/api/v1/conversations/{cid}/members"
    # A member who is not an admin adds and removes nobody.
    refused = await server.client.post(members, json={"user_id": carol.id}, headers=bob.headers)
    assert_error(refused, 403, "forbidden")
    refused = await server.client.delete(f"{members}/{alice.id}", headers=bob.headers)
    assert_error(refused, 403, "forbidden")
    # An outsider is not even a member.
    refused = await server.client.post(members, json={"user_id": dave.id}, headers=carol.headers)
    assert_error(refused, 403, "not_a_member")

    added = await server.client.post(members, json={"user_id": carol.id}, headers=alice.headers)
    assert added.status_code == 201, added.text
    assert added.json()["role"] == "member"
    again = await server.client.post(members, json={"user_id": carol.id}, headers=alice.headers)
    assert again.status_code == 200
    unknown = await server.client.post(members, json={"user_id": UNKNOWN_ID}, headers=alice.headers)
    assert_error(unknown, 422, "validation_failed")
    # Promote bob; demoting the last admin is refused.
    promoted = await server.client.post(
        members, json={"user_id": bob.id, "role": "admin"}, headers=alice.headers
    )
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    demoted = await server.client.post(
        members, json={"user_id": alice.id, "role": "member"}, headers=bob.headers
    )
    assert demoted.status_code == 200 and demoted.json()["role"] == "member"
    last = await server.client.post(
        members, json={"user_id": bob.id, "role": "member"}, headers=bob.headers
    )
    assert_error(last, 409, "conflict")

    removed = await server.client.delete(f"{members}/{carol.id}", headers=bob.headers)
    assert removed.status_code == 204
    gone = await server.client.delete(f"{members}/{carol.id}", headers=bob.headers)
    assert_error(gone, 404, "not_found")
    # The last admin leaves: the oldest member left (alice) becomes admin.
    left = await server.client.post(f"/api/v1/conversations/{cid}/leave", headers=bob.headers)
    assert left.status_code == 204
    detail = await server.client.get(f"/api/v1/conversations/{cid}", headers=alice.headers)
    assert [(m["user_id"], m["role"]) for m in detail.json()["members"]] == [(alice.id, "admin")]
    # Removing oneself is leaving.
    left = await server.client.delete(f"{members}/{alice.id}", headers=alice.headers)
    assert left.status_code == 204
    gone = await server.client.get(f"/api/v1/conversations/{cid}", headers=alice.headers)
    assert_error(gone, 403, "not_a_member")


async def test_a_direct_conversation_keeps_its_two_members(
    server: RunningServer, trio_users: tuple[User, User, User]
) -> None:
    alice, bob, carol = trio_users
    cid = (await open_conversation(server.client, alice, "direct", [bob]))["id"]
    base = f"/api/v1/conversations/{cid}"
    added = await server.client.post(
        f"{base}/members", json={"user_id": carol.id}, headers=alice.headers
    )
    assert_error(added, 409, "conflict")
    removed = await server.client.delete(f"{base}/members/{bob.id}", headers=alice.headers)
    assert_error(removed, 409, "conflict")
    left = await server.client.post(f"{base}/leave", headers=alice.headers)
    assert_error(left, 409, "conflict")


@pytest.mark.slow
async def test_only_members_read_or_post_and_unknown_ids_are_404(
    server: RunningServer, trio_users: tuple[User, User, User]
) -> None:
    alice, bob, carol = trio_users
    cid = (await open_conversation(server.client, alice, "group", [bob]))["id"]
    await posted(server.client, alice, cid, "hello")
    calls = [
        ("GET", "", None),
        ("GET", "/messages", None),
        ("POST", "/messages", {"body": "let me in"}),
        ("PATCH", "/messages/1", {"body": "mine now"}),
        ("DELETE", "/messages/1", None),
        ("POST", "/read", {"seq": 1}),
        ("POST", "/leave", None),
        ("POST", "/members", {"user_id": carol.id}),
    ]
    for method, tail, payload in calls:
        outsider = await server.client.request(
            method, f"/api/v1/conversations/{cid}{tail}", json=payload, headers=carol.headers
        )
        assert_error(outsider, 403, "not_a_member")
        for unknown in (UNKNOWN_ID, "nope", "A" * 32):
            missing = await server.client.request(
                method,
                f"/api/v1/conversations/{unknown}{tail}",
                json=payload,
                headers=alice.headers,
            )
            assert_error(missing, 404, "not_found")
    # Nothing of it leaked into the conversation.
    assert [m["body"] for m in (await history(server, alice, cid))["items"]] == ["hello"]
    # A guest lacks the chat permission altogether.
    await make_role(server, carol, "guest")
    refused = await server.client.get("/api/v1/conversations", headers=carol.headers)
    assert_error(refused, 403, "forbidden")


async def test_a_removed_member_loses_access_at_once(
    server: RunningServer, trio_users: tuple[User, User, User]
) -> None:
    alice, bob, _ = trio_users
    cid = (await open_conversation(server.client, alice, "group", [bob]))["id"]
    assert (await send(server.client, bob, cid, "before")).status_code == 201
    removed = await server.client.delete(
        f"/api/v1/conversations/{cid}/members/{bob.id}", headers=alice.headers
    )
    assert removed.status_code == 204
    assert_error(await send(server.client, bob, cid, "after"), 403, "not_a_member")
    refused = await server.client.get(f"/api/v1/conversations/{cid}/messages", headers=bob.headers)
    assert_error(refused, 403, "not_a_member")
    assert (await mine(server, bob))["items"] == []


async def test_sequence_numbers_and_idempotent_retries(
    server: RunningServer, trio_users: tuple[User, User, User]
) -> None:
    alice, bob, _ = trio_users
    cid = (await open_conversation(server.client, alice, "direct", [bob]))["id"]
    other = (await open_conversation(server.client, alice, "group", [bob]))["id"]
    first = await send(server.client, alice, cid, "one", client_id="c-1")
    assert first.status_code == 201, first.text
    message = first.json()
    assert message["seq"] == 1 and message["client_id"] == "c-1"
    assert message["sender_id"] == alice.id and message["conversation_id"] == cid
    assert message["deleted"] is False and message["edited_at"] is None
    retry = await send(server.client, alice, cid, "one", client_id="c-1")
    assert retry.status_code == 200
    assert retry.json() == message
    # The same key from another sender is another message.
    theirs = await send(server.client, bob, cid, "two", client_id="c-1")
    assert theirs.status_code == 201 and theirs.json()["seq"] == 2
    # A key already used in another conversation is refused, and takes no seq there.
    assert_error(await send(server.client, alice, other, "x", client_id="c-1"), 409, "conflict")
    assert (await posted(server.client, alice, other, "first there"))["seq"] == 1
    # Without a client_id the server makes one up: each send is a new message.
    assert (await posted(server.client, alice, cid, "three"))["seq"] == 3
    bad = await send(server.client, alice, cid, "four", client_id="has space")
    assert_error(bad, 422, "validation_failed")
    items = (await history(server, alice, cid))["items"]
    assert [(m["seq"], m["body"]) for m in items] == [(3, "three"), (2, "two"), (1, "one")]


@pytest.mark.slow
async def test_concurrent_retries_of_one_send_make_one_message(
    server: RunningServer, trio_users: tuple[User, User, User]
) -> None:
    alice, bob, _ = trio_users
    cid = (await open_conversation(server.client, alice, "direct", [bob]))["id"]
    answers: list[tuple[int, dict[str, Any]]] = []

    async def attempt() -> None:
        response = await send(server.client, alice, cid, "once", client_id="retry-me")
        answers.append((response.status_code, response.json()))

    async with trio.open_nursery() as nursery:
        for _ in range(8):
            nursery.start_soon(attempt)
    assert sorted(status for status, _ in answers) == [200] * 7 + [201]
    assert len({body["id"] for _, body in answers}) == 1
    assert [m["seq"] for m in (await history(server, alice, cid))["items"]] == [1]
    assert (await posted(server.client, bob, cid, "next"))["seq"] == 2  # no seq was lost


@pytest.mark.slow
async def test_history_is_newest_first_in_pages_of_at_most_100(
    server: RunningServer, trio_users: tuple[User, User, User]
) -> None:
    alice, bob, _ = trio_users
    cid = (await open_conversation(server.client, alice, "direct", [bob]))["id"]
    for n in range(1, 121):
        await posted(server.client, alice if n % 2 else bob, cid, f"m{n}")
    page = await history(server, bob, cid, limit=500)
    assert [m["seq"] for m in page["items"]] == list(range(120, 20, -1))
    assert page["next_before"] == 21
    rest = await history(server, bob, cid, before=21, limit=500)
    assert [m["seq"] for m in rest["items"]] == list(range(20, 0, -1))
    assert rest["next_before"] is None
    default = await history(server, bob, cid)
    assert len(default["items"]) == 50 and default["next_before"] == 71
    small = await history(server, bob, cid, before=4, limit=2)
    assert [m["body"] for m in small["items"]] == ["m3", "m2"] and small["next_before"] == 2
    for params in ({"before": 0}, {"limit": 0}, {"before": "x"}, {"before": 2**70}):
        refused = await server.client.get(
            f"/api/v1/conversations/{cid}/messages", params=params, headers=bob.headers
        )
        assert_error(refused, 422, "validation_failed")


@pytest.mark.slow
@pytest.mark.usefixtures("clock")
async def test_the_sender_edits_within_the_window(
    server: RunningServer, clock: Clock, trio_users: tuple[User, User, User]
) -> None:
    alice, bob, _ = trio_users
    cid = (await open_conversation(server.client, alice, "group", [bob]))["id"]
    seq = (await posted(server.client, alice, cid, "helo"))["seq"]
    url = f"/api/v1/conversations/{cid}/messages/{seq}"
    clock.advance(30)
    edited = await server.client.patch(url, json={"body": "hello"}, headers=alice.headers)
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert body["body"] == "hello" and body["seq"] == seq
    assert body["edited_at"] is not None and body["edited_at"] > body["created_at"]
    refused = await server.client.patch(url, json={"body": "hijack"}, headers=bob.headers)
    assert_error(refused, 403, "forbidden")
    invalid = await server.client.patch(url, json={"body": " "}, headers=alice.headers)
    assert_error(invalid, 422, "validation_failed")
    clock.advance(30)  # exactly at the end of the 60 s window: still allowed
    assert (
        await server.client.patch(url, json={"body": "hello!"}, headers=alice.headers)
    ).status_code == 200
    clock.advance(1)
    late = await server.client.patch(url, json={"body": "too late"}, headers=alice.headers)
    assert_error(late, 409, "conflict")
    missing = await server.client.patch(
        f"/api/v1/conversations/{cid}/messages/99", json={"body": "x"}, headers=alice.headers
    )
    assert_error(missing, 404, "not_found")
    assert (await history(server, bob, cid))["items"][0]["body"] == "hello!"


async def test_delete_leaves_a_tombstone_by_the_sender_or_a_moderator(
    server: RunningServer, trio_users: tuple[User, User, User]
) -> None:
    alice, bob, carol = trio_users
    cid = (await open_conversation(server.client, alice, "group", [bob]))["id"]
    for n in range(3):
        await posted(server.client, alice, cid, f"m{n + 1}")
    url = f"/api/v1/conversations/{cid}/messages"
    refused = await server.client.delete(f"{url}/1", headers=bob.headers)
    assert_error(refused, 403, "forbidden")
    assert (await server.client.delete(f"{url}/1", headers=alice.headers)).status_code == 204
    assert (await server.client.delete(f"{url}/1", headers=alice.headers)).status_code == 204
    # A moderator who is not a member removes a message; a plain outsider may not.
    assert_error(await server.client.delete(f"{url}/2", headers=carol.headers), 403, "not_a_member")
    await make_role(server, carol, "moderator")
    assert (await server.client.delete(f"{url}/2", headers=carol.headers)).status_code == 204
    # ...but reads nothing there.
    assert_error(await server.client.get(url, headers=carol.headers), 403, "not_a_member")
    assert_error(await server.client.delete(f"{url}/9", headers=carol.headers), 404, "not_found")
    items = (await history(server, bob, cid))["items"]
    assert [(m["seq"], m["body"], m["deleted"]) for m in items] == [
        (3, "m3", False),
        (2, "", True),
        (1, "", True),
    ]
    edit = await server.client.patch(f"{url}/1", json={"body": "back"}, headers=alice.headers)
    assert_error(edit, 409, "conflict")
    # The seq of a tombstone stays taken.
    assert (await posted(server.client, alice, cid, "m4"))["seq"] == 4


REFUSED_BODIES = [
    "",
    "   ",
    "\n\t",
    "x" * 4001,
    "nul\x00",
    "bell\x07",
    "cr\rlf",
    "esc\x1b[0m",
    "del\x7f",
]


async def test_bodies_that_are_refused(
    server: RunningServer, trio_users: tuple[User, User, User]
) -> None:
    alice, bob, _ = trio_users
    cid = (await open_conversation(server.client, alice, "direct", [bob]))["id"]
    for body in REFUSED_BODIES:
        response = await send(server.client, alice, cid, body)
        assert response.status_code == 422, (body, response.text)
        assert_error(response, 422, "validation_failed")
    assert (await history(server, alice, cid))["items"] == []


async def test_bodies_that_are_accepted_and_a_lone_surrogate(
    server: RunningServer, trio_users: tuple[User, User, User]
) -> None:
    alice, bob, _ = trio_users
    cid = (await open_conversation(server.client, alice, "direct", [bob]))["id"]
    accepted = ["line\nnext\ttab", "x" * 4000, "🎶 naïve — 日本語 👩‍👩‍👧", "\U0001f3b8" * 4000]
    for body in accepted:
        assert (await posted(server.client, alice, cid, body))["body"] == body
    # JSON can spell half a surrogate pair; no database can store it.
    raw = b'{"body": "half \\ud83c"}'
    response = await server.client.post(
        f"/api/v1/conversations/{cid}/messages",
        content=raw,
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert_error(response, 422, "validation_failed")
    bodies = [m["body"] for m in reversed((await history(server, alice, cid))["items"])]
    assert bodies == accepted


@pytest.mark.slow
async def test_read_receipts_and_unread_counts(
    server: RunningServer, trio_users: tuple[User, User, User]
) -> None:
    alice, bob, carol = trio_users
    cid = (await open_conversation(server.client, alice, "group", [bob, carol]))["id"]
    await posted(server.client, alice, cid, "mine: never unread for me")
    for n in range(3):
        await posted(server.client, bob, cid, f"from bob {n}")
    [item] = (await mine(server, alice))["items"]
    assert item["unread_count"] == 3 and item["read_seq"] == 0
    assert item["last_seq"] == 4 and item["last_message"]["body"] == "from bob 2"
    assert (await mine(server, bob))["items"][0]["unread_count"] == 1
    read = f"/api/v1/conversations/{cid}/read"
    moved = await server.client.post(read, json={"seq": 3}, headers=alice.headers)
    assert moved.status_code == 200, moved.text
    assert moved.json() == {
        "conversation_id": cid,
        "user_id": alice.id,
        "kind": "read",
        "seq": 3,
        "moved": True,
    }
    older = await server.client.post(read, json={"seq": 2}, headers=alice.headers)
    assert older.json()["moved"] is False and older.json()["seq"] == 3
    beyond = await server.client.post(read, json={"seq": 5}, headers=alice.headers)
    assert_error(beyond, 422, "validation_failed")
    [item] = (await mine(server, alice))["items"]
    assert item["unread_count"] == 1 and item["read_seq"] == 3
    assert item["delivered_seq"] == 3  # read implies delivered
    # A deleted message is nothing to read.
    await server.client.delete(f"/api/v1/conversations/{cid}/messages/4", headers=bob.headers)
    [item] = (await mine(server, alice))["items"]
    assert item["unread_count"] == 0 and item["last_message"]["deleted"] is True
    detail = (await server.client.get(f"/api/v1/conversations/{cid}", headers=carol.headers)).json()
    assert {m["user_id"]: m["read_seq"] for m in detail["members"]} == {
        alice.id: 3,
        bob.id: 0,
        carol.id: 0,
    }
    assert detail["unread_count"] == 3  # carol: bob's 3 and alice's 1, less the deleted one
    # Someone who joins later starts with nothing unread.
    dave = await user(server.client, "dave")
    await server.client.post(
        f"/api/v1/conversations/{cid}/members", json={"user_id": dave.id}, headers=alice.headers
    )
    [item] = (await mine(server, dave))["items"]
    assert item["unread_count"] == 0 and item["read_seq"] == 4


@pytest.mark.slow
async def test_my_conversations_most_recent_first_in_pages(
    server: RunningServer, trio_users: tuple[User, User, User]
) -> None:
    alice, bob, carol = trio_users
    ids = [
        (await open_conversation(server.client, alice, "direct", [bob]))["id"],
        (await open_conversation(server.client, alice, "direct", [carol]))["id"],
        (await open_conversation(server.client, bob, "group", [alice, carol], title="t"))["id"],
    ]
    await posted(server.client, bob, ids[0], "bumps the first one up")
    first = await mine(server, alice, limit=2)
    assert [c["id"] for c in first["items"]] == [ids[0], ids[2]]
    assert first["next_cursor"]
    second = await mine(server, alice, limit=2, cursor=first["next_cursor"])
    assert [c["id"] for c in second["items"]] == [ids[1]] and second["next_cursor"] is None
    assert second["items"][0]["last_message"] is None
    assert [c["peer_id"] for c in first["items"] + second["items"]] == [bob.id, None, carol.id]
    assert [c["id"] for c in (await mine(server, carol))["items"]] == [ids[2], ids[1]]
    bad = await server.client.get(
        "/api/v1/conversations", params={"cursor": "bogus"}, headers=alice.headers
    )
    assert_error(bad, 422, "validation_failed")


async def test_events_follow_the_commits(
    server: RunningServer, trio_users: tuple[User, User, User]
) -> None:
    alice, bob, _ = trio_users
    events = server.services.events
    async with events.subscribe(user_topic(bob.id)) as bobs:
        group = await open_conversation(server.client, alice, "group", [bob])
        cid = group["id"]
        # Bob's own sockets learn that he is in a new conversation.
        assert (await bobs.receive()).event == MemberAdded(cid, bob.id, "member")
    async with events.subscribe(conversation_topic(cid)) as conversation:
        message = await posted(server.client, alice, cid, "hi")
        delivery: Delivery = await conversation.receive()
        assert isinstance(delivery.event, MessagePosted)
        assert (delivery.event.seq, delivery.event.message_id) == (1, message["id"])
        assert delivery.event.message is not None and delivery.event.message["body"] == "hi"
        assert (await server.services.chat.resolve(delivery.event)).body == "hi"
        # A body whose JSON would not fit a NOTIFY travels as ids: receivers read the store.
        long = "日" * 4000
        await posted(server.client, alice, cid, long)
        big = (await conversation.receive()).event
        assert isinstance(big, MessagePosted) and big.message is None and big.seq == 2
        assert (await server.services.chat.resolve(big)).body == long
        await server.client.patch(
            f"/api/v1/conversations/{cid}/messages/1", json={"body": "hey"}, headers=alice.headers
        )
        changed = (await conversation.receive()).event
        assert isinstance(changed, MessageChanged) and changed.message is not None
        assert changed.message["body"] == "hey" and changed.message["edited_at"] is not None
        await server.client.post(
            f"/api/v1/conversations/{cid}/read", json={"seq": 2}, headers=bob.headers
        )
        assert (await conversation.receive()).event == ReceiptMoved(cid, bob.id, "read", 2)
        await server.client.post(
            f"/api/v1/conversations/{cid}/read", json={"seq": 1}, headers=bob.headers
        )  # moves nothing, tells nobody
        await server.client.delete(
            f"/api/v1/conversations/{cid}/members/{bob.id}", headers=alice.headers
        )
        assert (await conversation.receive()).event == MemberRemoved(cid, bob.id)
        # A refused send publishes nothing.
        assert_error(await send(server.client, bob, cid, "x"), 403, "not_a_member")
        await server.client.delete(f"/api/v1/conversations/{cid}/messages/1", headers=alice.headers)
        tombstone = (await conversation.receive()).event
        assert isinstance(tombstone, MessageChanged) and tombstone.message is not None
        assert tombstone.message["body"] == "" and tombstone.message["deleted_at"] is not None


async def test_sends_are_rate_limited_per_user(tmp_path: Path) -> None:
    from tests.support.server import serving

    async with (
        backend_settings(
            tmp_path, "sqlite", chat_send_burst=3, chat_send_per_minute=1.0
        ) as settings,
        serving(settings, Clock()) as server,
    ):
        alice, bob = await user(server.client, "alice"), await user(server.client, "bob")
        cid = (await open_conversation(server.client, alice, "direct", [bob]))["id"]
        for n in range(3):
            await posted(server.client, alice, cid, f"m{n}")
        limited = await send(server.client, alice, cid, "one too many")
        assert_error(limited, 429, "rate_limited")
        assert int(limited.headers["Retry-After"]) == 60
        # Another user has a bucket of their own.
        assert (await send(server.client, bob, cid, "mine")).status_code == 201
