"""What the socket asks of the Chat service, on SQLite and PostgreSQL: resuming after a seq
(in order, or `ResyncRequired` past the configured gap), membership answers, reading one
message, and resolving a message event whether or not it carries the message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.chat import BACKENDS, principals, stores
from veza.accounts import Principal
from veza.chat import (
    Chat,
    ChatBounds,
    MessagePosted,
    ReceiptMoved,
    ReceiptsMoved,
    conversation_topic,
    user_topic,
)
from veza.errors import NotAMember, NotFound, ResyncRequired, ValidationFailed
from veza.events import EventBus

UNKNOWN_ID = "f" * 32


@pytest.fixture(params=BACKENDS)
async def chat_and_users(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Chat, EventBus, list[Principal]]]:
    async with stores(request.param, tmp_path, 1) as [store]:
        events = EventBus()
        users = await principals(store, 3)
        yield Chat(store, events, ChatBounds(resume_max=5)), events, users


async def test_resume_replays_what_was_missed_or_asks_for_a_resync(
    chat_and_users: tuple[Chat, EventBus, list[Principal]],
) -> None:
    chat, _, (alice, bob, carol) = chat_and_users
    cid = (await chat.create(alice, "group", [bob.user.id])).view.conversation.id
    assert await chat.after(bob, cid, 0) == []
    for n in range(1, 9):
        await chat.post(alice if n % 2 else bob, cid, f"m{n}")
    missed = await chat.after(bob, cid, 4)
    assert [(m.seq, m.body) for m in missed] == [(5, "m5"), (6, "m6"), (7, "m7"), (8, "m8")]
    assert [m.seq for m in await chat.after(bob, cid, 3)] == [4, 5, 6, 7, 8]  # exactly 5
    with pytest.raises(ResyncRequired):
        await chat.after(bob, cid, 2)  # 6 missed, more than resume_max
    assert await chat.after(bob, cid, 8) == []
    assert await chat.after(bob, cid, 50) == []  # ahead of the store: nothing to send
    with pytest.raises(ValidationFailed):
        await chat.after(bob, cid, -1)
    with pytest.raises(NotAMember):
        await chat.after(carol, cid, 0)
    with pytest.raises(NotFound):
        await chat.after(bob, UNKNOWN_ID, 0)
    with pytest.raises(NotFound):
        await chat.after(bob, "conversation:' OR 1=1 --", 0)


async def test_membership_answers_for_the_socket(
    chat_and_users: tuple[Chat, EventBus, list[Principal]],
) -> None:
    chat, _, (alice, bob, carol) = chat_and_users
    group = (await chat.create(alice, "group", [bob.user.id])).view.conversation.id
    direct = (await chat.create(alice, "direct", [carol.user.id])).view.conversation.id
    assert await chat.member_ids(group) == sorted([alice.user.id, bob.user.id])
    assert await chat.member_ids(UNKNOWN_ID) == []
    assert sorted(await chat.conversation_ids_of(alice.user.id)) == sorted([group, direct])
    assert await chat.conversation_ids_of(bob.user.id) == [group]
    assert await chat.is_member(bob.user.id, group)
    assert not await chat.is_member(carol.user.id, group)
    assert not await chat.is_member(bob.user.id, "not-an-id")
    assert (await chat.require_member(carol.user.id, direct)).kind == "direct"
    with pytest.raises(NotAMember):
        await chat.require_member(bob.user.id, direct)
    with pytest.raises(NotFound):
        await chat.require_member(bob.user.id, UNKNOWN_ID)
    await chat.remove_member(alice, group, bob.user.id)
    assert not await chat.is_member(bob.user.id, group)
    assert await chat.conversation_ids_of(bob.user.id) == []


async def test_the_peers_of_a_user_come_from_one_query_each_once(
    chat_and_users: tuple[Chat, EventBus, list[Principal]],
) -> None:
    chat, _, (alice, bob, carol) = chat_and_users
    group = (await chat.create(alice, "group", [bob.user.id, carol.user.id])).view.conversation.id
    await chat.create(alice, "direct", [bob.user.id])  # bob twice over: named once
    assert await chat.peer_ids_of(alice.user.id, 100) == sorted([bob.user.id, carol.user.id])
    assert await chat.peer_ids_of(alice.user.id, 1) == [min(bob.user.id, carol.user.id)]
    await chat.remove_member(alice, group, carol.user.id)
    assert await chat.peer_ids_of(carol.user.id, 100) == []
    assert await chat.peer_ids_of(alice.user.id, 100) == [bob.user.id]
    assert await chat.peer_ids_of(UNKNOWN_ID, 100) == []


async def test_a_message_is_read_back_or_resolved_from_its_event(
    chat_and_users: tuple[Chat, EventBus, list[Principal]],
) -> None:
    chat, events, (alice, bob, _) = chat_and_users
    cid = (await chat.create(alice, "direct", [bob.user.id])).view.conversation.id
    async with events.subscribe(conversation_topic(cid)) as subscription:
        small = await chat.post(alice, cid, "short", client_id="k1")
        large = await chat.post(bob, cid, "\U0001f3b5" * 1000, client_id="k1")
        retried = await chat.post(alice, cid, "short", client_id="k1")
        first, second = (await subscription.receive()).event, (await subscription.receive()).event
    assert retried == type(retried)(small.message, created=False)
    assert isinstance(first, MessagePosted) and isinstance(second, MessagePosted)
    assert first.message is not None and second.message is None
    assert await chat.resolve(first) == small.message
    assert await chat.resolve(second) == large.message
    assert await chat.message(cid, 2) == large.message
    for seq in (0, 3, -1, 2**70):
        with pytest.raises(NotFound):
            await chat.message(cid, seq)
    # A receipt beyond the last message is refused; an older one than the mark moves nothing.
    with pytest.raises(ValidationFailed):
        await chat.mark_delivered(bob, cid, 3)
    delivered = await chat.mark_delivered(bob, cid, 2)
    assert delivered.moved and delivered.seq == 2 and delivered.kind == "delivered"
    again = await chat.mark_delivered(bob, cid, 1)
    assert not again.moved and again.seq == 2


async def test_delivered_marks_of_many_members_move_together_and_reach_the_senders(
    chat_and_users: tuple[Chat, EventBus, list[Principal]],
) -> None:
    chat, events, (alice, bob, carol) = chat_and_users
    cid = (await chat.create(alice, "group", [bob.user.id])).view.conversation.id
    for n in range(1, 4):
        await chat.post(alice, cid, f"m{n}")
    await chat.mark_delivered(bob, cid, 3)
    async with events.subscribe(user_topic(alice.user.id)) as to_alice:
        # Bob's mark is already at 3 (no move back), Carol is no member (no move at all), the
        # owner moves; seq 9 is beyond the last message (dropped).
        marks = {bob.user.id: 2, carol.user.id: 3, alice.user.id: 3, UNKNOWN_ID: 9}
        moved = await chat.mark_delivered_many(cid, marks, [alice.user.id])
        assert moved == {alice.user.id: 3}
        one = (await to_alice.receive()).event
        assert one == ReceiptMoved(cid, alice.user.id, "delivered", 3)
        await chat.post(bob, cid, "m4")
        marks = {alice.user.id: 4, bob.user.id: 4}
        assert await chat.mark_delivered_many(cid, marks, [bob.user.id, alice.user.id]) == marks
        both = (await to_alice.receive()).event
    assert isinstance(both, ReceiptsMoved) and both.conversation_id == cid
    assert sorted(map(tuple, both.marks)) == sorted(marks.items())
    members = {m.user_id: m.delivered_seq for m in await chat.members(alice, cid)}
    assert members == {alice.user.id: 4, bob.user.id: 4}
