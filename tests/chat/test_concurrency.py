"""The Chat service under concurrency, on SQLite and PostgreSQL, and with two Store instances
on one PostgreSQL database (two processes): sequence numbers stay 1..N without a gap or a
duplicate, concurrent retries make one message, and receipts only ever move forward."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import trio

from tests.support.chat import principals, stores
from veza.chat import Chat
from veza.events import EventBus

pytestmark = pytest.mark.slow

SENDERS = 4
EACH = 25


@pytest.mark.parametrize(
    "backend,processes",
    [("sqlite", 1), ("postgresql", 1), ("postgresql", 2)],
    ids=["sqlite", "postgresql", "postgresql-two-stores"],
)
async def test_concurrent_senders_get_gap_free_sequence_numbers(
    tmp_path: Path, backend: str, processes: int
) -> None:
    async with stores(backend, tmp_path, processes) as opened:
        chats = [Chat(store, EventBus()) for store in opened]
        users = await principals(opened[0], SENDERS)
        group = await chats[0].create(users[0], "group", [u.user.id for u in users[1:]])
        cid = group.view.conversation.id
        seqs: dict[str, list[int]] = {u.user.id: [] for u in users}

        async def sender(n: int) -> None:
            chat = chats[n % len(chats)]
            for i in range(EACH):
                posted = await chat.post(users[n], cid, f"{n}:{i}", client_id=f"{n}-{i}")
                assert posted.created
                seqs[users[n].user.id].append(posted.message.seq)

        async with trio.open_nursery() as nursery:
            for n in range(SENDERS):
                nursery.start_soon(sender, n)
        every = sorted(seq for mine in seqs.values() for seq in mine)
        assert every == list(range(1, SENDERS * EACH + 1))
        for mine in seqs.values():
            assert mine == sorted(mine)  # one sender's messages in the order they were sent
        stored = await chats[-1].history(users[1], cid, None, 100)
        assert [m.seq for m in stored] == list(range(SENDERS * EACH, 0, -1))
        # Each sender's bodies come in their own order.
        for n in range(SENDERS):
            bodies = [m.body for m in reversed(stored) if m.sender_id == users[n].user.id]
            assert bodies == [f"{n}:{i}" for i in range(EACH)]


@pytest.mark.parametrize(
    "backend,processes",
    [("sqlite", 1), ("postgresql", 2)],
    ids=["sqlite", "postgresql-two-stores"],
)
async def test_concurrent_retries_make_one_message(
    tmp_path: Path, backend: str, processes: int
) -> None:
    async with stores(backend, tmp_path, processes) as opened:
        chats = [Chat(store, EventBus()) for store in opened]
        alice, bob = await principals(opened[0], 2)
        cid = (await chats[0].create(alice, "direct", [bob.user.id])).view.conversation.id
        outcomes = []

        async def attempt(n: int) -> None:
            outcomes.append(await chats[n % len(chats)].post(alice, cid, "once", "same-key"))

        async with trio.open_nursery() as nursery:
            for n in range(10):
                nursery.start_soon(attempt, n)
        assert sorted(o.created for o in outcomes) == [False] * 9 + [True]
        assert {o.message.id for o in outcomes} == {outcomes[0].message.id}
        assert (await chats[0].post(bob, cid, "next")).message.seq == 2


@pytest.mark.parametrize(
    "backend,processes",
    [("sqlite", 1), ("postgresql", 2)],
    ids=["sqlite", "postgresql-two-stores"],
)
async def test_receipts_only_move_forward_under_concurrent_updates(
    tmp_path: Path, backend: str, processes: int
) -> None:
    async with stores(backend, tmp_path, processes) as opened:
        chats = [Chat(store, EventBus()) for store in opened]
        alice, bob = await principals(opened[0], 2)
        cid = (await chats[0].create(alice, "direct", [bob.user.id])).view.conversation.id
        for n in range(60):
            await chats[0].post(alice, cid, f"m{n}")
        marks = list(range(1, 61))
        random.Random(7).shuffle(marks)
        moved: list[int] = []
        lowest_after: list[tuple[int, int]] = []

        async def reader(worker: int) -> None:
            chat = chats[worker % len(chats)]
            for seq in marks[worker::6]:
                kind = chat.mark_read if seq % 2 else chat.mark_delivered
                receipt = await kind(bob, cid, seq)
                assert receipt.seq >= seq  # where the mark stands: never below what was asked
                if receipt.moved:
                    moved.append(seq)
                member = await opened[worker % len(opened)].chat.member(cid, bob.user.id)
                assert member is not None
                lowest_after.append((seq, member.delivered_seq))

        async with trio.open_nursery() as nursery:
            for worker in range(6):
                nursery.start_soon(reader, worker)
        member = await opened[0].chat.member(cid, bob.user.id)
        assert member is not None
        assert member.read_seq == max(s for s in marks if s % 2)
        assert member.delivered_seq == 60
        for seq, delivered in lowest_after:
            assert delivered >= seq  # once a mark is written, nothing takes it back
        # An older receipt after the newest changes nothing.
        late = await chats[-1].mark_read(bob, cid, 3)
        assert not late.moved and late.seq == member.read_seq
