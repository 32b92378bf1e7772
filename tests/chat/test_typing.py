"""Typing indicators: the pure state machine with plain numbers for time, and its owner tasks
under Trio's MockClock (no real waiting)."""

from __future__ import annotations

import pytest
import trio
import trio.lowlevel
from trio.testing import MockClock

from veza.chat.typing import MAX_NAMED, Change, TypingChanged, TypingOwners, TypingState
from veza.events import EventBus, topic


def test_a_start_is_a_change_and_a_refresh_is_not() -> None:
    state = TypingState(expiry=6)
    assert state.start("u1", now=0) == Change("u1", True, ("u1",), 1)
    assert state.start("u1", now=2) is None  # a refresh: nothing to tell
    assert state.start("u2", now=3) == Change("u2", True, ("u1", "u2"), 2)
    assert state.next_deadline() == 8  # u1's refresh at 2, plus 6


def test_each_change_carries_the_full_set_and_a_growing_version() -> None:
    state = TypingState(expiry=6)
    changes = [state.start("b", 0), state.start("a", 0), state.stop("b"), state.stop("a")]
    assert [c.typing for c in changes if c] == [("b",), ("a", "b"), ("a",), ()]
    assert [c.version for c in changes if c] == [1, 2, 3, 4]
    assert state.stop("a") is None  # not typing: no change
    assert not state and state.next_deadline() is None


def test_a_state_expires_six_seconds_after_its_last_refresh() -> None:
    state = TypingState()
    state.start("u1", now=0)
    state.start("u2", now=1)
    state.start("u1", now=4)
    assert state.expire(6.9) == []
    assert state.expire(7) == [Change("u2", False, ("u1",), 3)]
    assert state.expire(9.99) == []
    assert state.expire(10) == [Change("u1", False, (), 4)]
    assert state.next_deadline() is None


def test_expiries_come_oldest_first() -> None:
    state = TypingState(expiry=1)
    for n, user in enumerate(["c", "a", "b"]):
        state.start(user, now=n / 10)
    assert [c.user_id for c in state.expire(100)] == ["c", "a", "b"]
    assert [c.typing for c in state.expire(100)] == []


def test_the_expiry_must_be_positive() -> None:
    with pytest.raises(ValueError):
        TypingState(expiry=0)


async def collect(bus: EventBus, conversation_id: str, count: int) -> list[TypingChanged]:
    got: list[TypingChanged] = []
    async with bus.subscribe(topic("conversation", conversation_id)) as subscription:
        async for delivery in subscription:
            assert isinstance(delivery.event, TypingChanged)
            got.append(delivery.event)
            if len(got) == count:
                return got
    return got


async def test_the_owner_publishes_changes_in_order_and_ends_when_nobody_types(
    autojump_clock: MockClock,
) -> None:
    bus = EventBus()
    owners = TypingOwners(bus, origin="here", expiry=6)
    async with trio.open_nursery() as nursery:
        await nursery.start(owners.run)
        received: list[TypingChanged] = []

        async def listen() -> None:
            received.extend(await collect(bus, "c1", 4))

        nursery.start_soon(listen)
        await trio.lowlevel.checkpoint()  # the listener is subscribed
        assert owners.submit("c1", "u1", True)
        assert owners.submit("c1", "u2", True)
        assert owners.active_conversations == 1
        await trio.sleep(3)
        assert owners.submit("c1", "u1", True)  # refresh: u1 now lasts until 9
        await trio.sleep(10)
        nursery.cancel_scope.cancel()
    assert [(e.user_id, e.active, e.typing) for e in received] == [
        ("u1", True, ["u1"]),
        ("u2", True, ["u1", "u2"]),
        ("u2", False, ["u1"]),
        ("u1", False, []),
    ]
    assert [e.version for e in received] == [1, 2, 3, 4]  # never an older one after a newer
    assert {e.origin for e in received} == {"here"}
    assert owners.active_conversations == 0


async def test_no_task_runs_while_nobody_types(autojump_clock: MockClock) -> None:
    bus = EventBus()
    owners = TypingOwners(bus, origin="here", expiry=6)
    async with trio.open_nursery() as nursery:
        await nursery.start(owners.run)
        assert owners.submit("c1", "u1", False)  # a stop where nobody types: no task started
        assert owners.active_conversations == 0
        owners.submit("c1", "u1", True)
        owners.submit("c1", "u1", False)
        await trio.sleep(0.1)
        assert owners.active_conversations == 0  # the stop ended it at once, no expiry wait
        stats = trio.lowlevel.current_statistics()
        before = stats.tasks_living
        await trio.sleep(3600)  # an hour of nobody typing wakes nothing
        assert trio.lowlevel.current_statistics().tasks_living == before
        nursery.cancel_scope.cancel()


async def test_a_swamped_conversation_drops_input(autojump_clock: MockClock) -> None:
    bus = EventBus()
    owners = TypingOwners(bus, origin="here", queue_size=2)
    async with trio.open_nursery() as nursery:
        await nursery.start(owners.run)
        results = [owners.submit("c1", f"u{n}", True) for n in range(4)]
        assert results == [True, True, False, False]
        nursery.cancel_scope.cancel()


async def test_a_crowd_typing_is_named_up_to_a_bound(autojump_clock: MockClock) -> None:
    bus = EventBus()
    owners = TypingOwners(bus, origin="here", queue_size=MAX_NAMED + 10)
    async with trio.open_nursery() as nursery:
        await nursery.start(owners.run)
        async with bus.subscribe(topic("conversation", "c1")) as subscription:
            for n in range(MAX_NAMED + 5):
                owners.submit("c1", f"user{n:04d}", True)
            last = None
            for _ in range(MAX_NAMED + 5):
                last = (await subscription.receive()).event
        assert isinstance(last, TypingChanged)
        assert len(last.typing) == MAX_NAMED
        assert last.version == MAX_NAMED + 5
        nursery.cancel_scope.cancel()


def test_other_processes_users_count_in_the_set_until_they_say_otherwise() -> None:
    state = TypingState(expiry=6)
    state.start("here", now=0)
    state.merge("other", ["there", "here"], now=1)  # "here" is ours, whoever else names it
    assert state.typing == ("here", "there")
    assert state.local == {"here"}
    change = state.stop("here")
    assert change is not None and change.typing == ("there",)
    state.merge("other", [], now=2)
    assert state.typing == ()


def test_a_silent_process_stops_counting_after_the_expiry() -> None:
    state = TypingState(expiry=6)
    state.merge("gone", ["there"], now=0)
    assert state.typing == ("there",)
    assert state.expire(5.9) == [] and state.typing == ("there",)
    assert state.expire(6) == []  # told by no change of ours: that process tells its own
    assert state.typing == ()


def test_restating_tells_the_whole_set_again() -> None:
    state = TypingState(expiry=6)
    assert state.restate() is None
    state.start("b", now=0)
    state.merge("other", ["x"], now=0)
    restated = state.restate()
    assert restated is not None
    assert (restated.user_id, restated.active, restated.typing) == ("b", True, ("b", "x"))


async def test_two_processes_owners_tell_one_set(autojump_clock: MockClock) -> None:
    bus = EventBus()  # one bus with a perfect relay: two owners, two origins
    one = TypingOwners(bus, origin="one", expiry=6)
    two = TypingOwners(bus, origin="two", expiry=6)
    told: list[tuple[str, str, bool, list[str]]] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(one.run)
        await nursery.start(two.run)
        async with bus.subscribe(topic("conversation", "c")) as subscription:

            async def next_told() -> None:
                event = (await subscription.receive()).event
                assert isinstance(event, TypingChanged)
                told.append((event.origin, event.user_id, event.active, event.typing))

            one.submit("c", "u1", True)
            await next_told()
            two.submit("c", "u2", True)  # process two's owner starts knowing nobody else
            await next_told()
            await next_told()  # process one answers with the whole set
            await trio.sleep(1)  # process two has heard it
            two.submit("c", "u2", False)
            await next_told()
            await next_told()  # u1's state runs out in process one
        nursery.cancel_scope.cancel()
    assert told == [
        ("one", "u1", True, ["u1"]),
        ("two", "u2", True, ["u2"]),
        ("one", "u1", True, ["u1", "u2"]),
        ("two", "u2", False, ["u1"]),
        ("one", "u1", False, []),
    ]
