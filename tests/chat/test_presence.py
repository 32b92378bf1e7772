"""Presence: the pure state machine with plain numbers for time, and its owner task under
Trio's MockClock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager

import trio
from trio.testing import MockClock

from veza.chat.presence import (
    ANSWER_WITHIN_S,
    BEAT_EVERY_S,
    DEFAULT_GATHER_SECONDS,
    PRESENCE_TOPIC,
    PresenceAlive,
    PresenceAsked,
    PresenceChanged,
    PresenceOwner,
    PresenceState,
    PresenceTold,
    silence_limit,
)
from veza.events import EventBus, Subscription, topic


def test_online_from_the_first_socket_offline_after_the_grace_of_the_last() -> None:
    state = PresenceState(away_after=300, offline_grace=10)
    assert state.connected("u", now=0) == "online"
    assert state.connected("u", now=1) is None  # a second socket
    assert state.disconnected("u", now=2) is None  # one left
    assert state.disconnected("u", now=3) is None  # none left: still online for the grace
    assert state.next_deadline() == 13
    assert state.due(12.9) == []
    assert state.due(13) == [("u", "offline")]
    assert state.status("u") == "offline" and len(state) == 0


def test_a_reconnect_within_the_grace_is_no_change() -> None:
    state = PresenceState(away_after=300, offline_grace=10)
    state.connected("u", now=0)
    state.disconnected("u", now=1)
    assert state.connected("u", now=5) is None
    assert state.due(100) == []
    assert state.status("u") == "online"


def test_silence_makes_away_and_activity_online_again() -> None:
    state = PresenceState(away_after=300, offline_grace=10)
    state.connected("u", now=0)
    assert state.active("u", now=100) is None
    assert state.due(399) == []
    assert state.due(400) == [("u", "away")]
    assert state.active("u", now=450) == "online"
    assert state.next_deadline() == 750


def test_a_chosen_away_holds_until_the_user_says_online() -> None:
    state = PresenceState(away_after=300, offline_grace=10)
    state.connected("u", now=0)
    assert state.choose("u", "away", now=1) == "away"
    assert state.active("u", now=2) is None  # typing does not undo a choice
    assert state.due(10_000) == []
    assert state.choose("u", "online", now=3) == "online"
    assert state.disconnected("u", now=4) is None
    assert state.due(14) == [("u", "offline")]
    assert state.connected("u", now=20) == "online"  # a new start: the choice is forgotten


def test_the_unknown_and_the_gone_are_offline_and_ignored() -> None:
    state = PresenceState()
    assert state.status("nobody") == "offline"
    assert state.active("nobody", now=0) is None
    assert state.choose("nobody", "away", now=0) is None
    assert state.disconnected("nobody", now=0) is None


async def test_the_owner_publishes_changes_to_the_users_conversations(
    autojump_clock: MockClock,
) -> None:
    bus = EventBus()

    async def audience(user_id: str) -> list[str]:
        return [topic("conversation", "c1"), topic("conversation", "c2")]

    owner = PresenceOwner(bus, audience, origin="here", away_after=300, offline_grace=10)
    heard: list[tuple[str, str]] = []
    async with running(owner):
        async with bus.subscribe(topic("conversation", "c2")) as subscription:
            await owner.connected("u")
            await owner.disconnected("u")
            async for delivery in subscription:
                assert isinstance(delivery.event, PresenceChanged)
                heard.append((delivery.event.status, delivery.event.origin))
                if delivery.event.status == "offline":
                    break
        assert trio.current_time() >= 10  # the grace, on Trio's clock
    assert heard == [("online", "here"), ("offline", "here")]


def test_other_processes_word_counts_for_every_user() -> None:
    state = PresenceState(away_after=300, offline_grace=10)
    state.merge("u", "other", "online")  # no socket here: shown all the same
    assert (state.status("u"), state.shown("u")) == ("offline", "online")
    state.connected("u", now=0)
    state.choose("u", "away", now=0)
    assert (state.status("u"), state.shown("u")) == ("away", "online")
    state.merge("u", "other", "offline")
    assert state.shown("u") == "away"
    state.merge("u", "other", "online")
    state.merge("v", "other", "online")
    state.merge("v", "third", "away")
    assert state.users_of("other") == ["u", "v"] and state.origins() == ["other", "third"]
    assert state.word() == [("u", "away")]  # what this process tells: its own sockets
    assert state.drop("other") == ["u", "v"]
    assert (state.shown("u"), state.shown("v")) == ("away", "away")
    assert state.origins() == ["third"]


@asynccontextmanager
async def running(*owners: PresenceOwner) -> AsyncIterator[trio.Nursery]:
    """The owners' tasks, each started (subscribed) in turn, cancelled after the block."""
    async with trio.open_nursery() as nursery:
        for owner in owners:
            await nursery.start(owner.run)
        yield nursery
        nursery.cancel_scope.cancel()


def conversation_c(user_id: str) -> Awaitable[list[str]]:
    async def topics() -> list[str]:
        return [topic("conversation", "c")]

    return topics()


async def told_statuses(subscription: Subscription, user_id: str, until: str) -> list[str]:
    """What a conversation's sockets hear of a user, up to `until`."""
    statuses: list[str] = []
    with trio.fail_after(60):
        while not statuses or statuses[-1] != until:
            event = (await subscription.receive()).event
            if isinstance(event, PresenceChanged) and event.user_id == user_id:
                statuses.append(event.status)
    return statuses


async def test_two_processes_show_a_user_online_until_both_have_let_go(
    autojump_clock: MockClock,
) -> None:
    bus = EventBus()  # one bus, two owners: two processes with a perfect relay
    one = PresenceOwner(bus, conversation_c, origin="one", offline_grace=10)
    two = PresenceOwner(bus, conversation_c, origin="two", offline_grace=10)
    async with running(one, two), bus.subscribe(topic("conversation", "c")) as heard:
        await one.connected("u")
        await trio.sleep(1)
        assert two.status("u") == "online"  # no socket of u on two: one's word
        await two.connected("u")  # a second device, on the other process
        await two.disconnected("u")
        await trio.sleep(20)  # two's grace is over; one still has u
        assert (one.status("u"), two.status("u")) == ("online", "online")
        await one.disconnected("u")
        # Told once online and once offline: the second device changed nothing shown.
        assert await told_statuses(heard, "u", "offline") == ["online", "offline"]
        await trio.sleep(1)
        assert two.status("u") == "offline"


async def test_two_processes_letting_go_at_once_still_tell_offline(
    autojump_clock: MockClock,
) -> None:
    bus = EventBus()
    one = PresenceOwner(bus, conversation_c, origin="one", offline_grace=10)
    two = PresenceOwner(bus, conversation_c, origin="two", offline_grace=10)
    async with running(one, two):
        await one.connected("u")
        await two.connected("u")
        await trio.sleep(1)  # each has heard the other
        async with bus.subscribe(topic("conversation", "c")) as heard:
            # Both graces end at the same instant: each shows u online on the other's word...
            await one.disconnected("u")
            await two.disconnected("u")
            # ...until each hears the other let go, and tells its own sockets.
            assert (await told_statuses(heard, "u", "offline"))[-1] == "offline"


async def test_a_process_that_starts_asks_and_one_that_does_not_answer_is_gone(
    autojump_clock: MockClock,
) -> None:
    bus = EventBus()
    one = PresenceOwner(bus, conversation_c, origin="one")
    async with running(one) as nursery:
        await one.connected("u")
        # A process that then crashed said that z was online.
        bus.publish(PRESENCE_TOPIC, PresenceChanged("z", "online", "dead", "online"))
        await trio.sleep(1)
        assert one.status("z") == "online"
        async with bus.subscribe(topic("conversation", "c")) as heard:
            two = PresenceOwner(bus, conversation_c, origin="two")
            await nursery.start(two.run)  # starts later: asks the others
            await trio.sleep(1)
            assert two.status("u") == "online"  # one's answer
            assert await told_statuses(heard, "z", "offline") == ["offline"]
            assert trio.current_time() >= ANSWER_WITHIN_S  # the dead one had its time
            assert (one.status("z"), two.status("z")) == ("offline", "offline")


async def test_a_process_that_leaves_is_no_longer_counted(autojump_clock: MockClock) -> None:
    bus = EventBus()
    one = PresenceOwner(bus, conversation_c, origin="one", offline_grace=10)
    two = PresenceOwner(bus, conversation_c, origin="two", offline_grace=10)
    async with running(one, two):
        await one.connected("u")
        await two.connected("v")
        await trio.sleep(1)
        async with bus.subscribe(topic("conversation", "c")) as heard:
            await one.leave()  # shutting down: its sockets' word goes with it
            await one.disconnected("u")  # the closing sockets: not told
            assert await told_statuses(heard, "u", "offline") == ["offline"]
            assert two.status("u") == "offline" and two.status("v") == "online"
            assert trio.current_time() < 10  # at once, not after u's grace


async def test_a_process_that_crashes_is_dropped_once_silent_and_the_running_are_kept(
    autojump_clock: MockClock,
) -> None:
    bus = EventBus()
    one = PresenceOwner(bus, conversation_c, origin="one")
    two = PresenceOwner(bus, conversation_c, origin="two")
    three = PresenceOwner(bus, conversation_c, origin="three")
    limit = silence_limit(BEAT_EVERY_S)  # three beats missed, and half a beat
    async with running(one, three):
        async with trio.open_nursery() as crashing:
            await crashing.start(two.run)
            await two.connected("u")
            await three.connected("v")
            await trio.sleep(5 * limit + 3)  # long quiet: the beats keep everyone counted
            assert (one.status("u"), one.status("v")) == ("online", "online")
            crashing.cancel_scope.cancel()  # two dies without a word: no leave
        crashed_at = trio.current_time()
        async with bus.subscribe(topic("conversation", "c")) as heard:
            await trio.sleep(limit - BEAT_EVERY_S - 1)  # its last beat was under a beat before
            assert one.status("u") == "online"
            assert await told_statuses(heard, "u", "offline") == ["offline"]
            # Dropped when its last beat was `limit` old, told after the gathering.
            told_at = trio.current_time() - DEFAULT_GATHER_SECONDS
            assert crashed_at + limit - BEAT_EVERY_S < told_at <= crashed_at + limit
            assert (one.status("u"), three.status("u")) == ("offline", "offline")
            assert one.status("v") == "online"  # three is alive


async def asked_by(said: Subscription, origin: str) -> None:
    with trio.fail_after(5):
        while True:
            event = (await said.receive()).event
            if isinstance(event, PresenceAsked) and event.origin == origin:
                return


async def test_a_process_heard_again_after_being_dropped_is_asked_for_its_word(
    autojump_clock: MockClock,
) -> None:
    bus = EventBus()
    one = PresenceOwner(bus, conversation_c, origin="one")
    async with running(one):
        # "far" names z, then stalls: dropped once silent.
        bus.publish(PRESENCE_TOPIC, PresenceChanged("z", "online", "far", "online"))
        await trio.sleep(1)
        assert one.status("z") == "online"
        await trio.sleep(silence_limit(BEAT_EVERY_S))
        assert one.status("z") == "offline"
        async with bus.subscribe(PRESENCE_TOPIC) as said:
            bus.publish(PRESENCE_TOPIC, PresenceAlive("far"))
            await asked_by(said, "one")
        bus.publish(PRESENCE_TOPIC, PresenceTold("far", [["z", "online"]]))
        await trio.sleep(1)
        assert one.status("z") == "online"
        # "far" names z again, then misses an ask (another process started): dropped at once,
        # not after its silence; heard again, asked again.
        async with bus.subscribe(PRESENCE_TOPIC) as said:
            bus.publish(PRESENCE_TOPIC, PresenceAsked("new"))
            await trio.sleep(ANSWER_WITHIN_S + 1)
            assert one.status("z") == "offline"
            bus.publish(PRESENCE_TOPIC, PresenceAlive("far"))
            await asked_by(said, "one")


async def test_processes_wait_for_each_others_beats(autojump_clock: MockClock) -> None:
    # A process beating every 40 s (configured so) is not dropped by one beating every 10 s.
    bus = EventBus()
    one = PresenceOwner(bus, conversation_c, origin="one", beat_every=10)
    slow = PresenceOwner(bus, conversation_c, origin="slow", beat_every=40)
    async with running(one, slow):
        await slow.connected("u")
        await trio.sleep(200)  # 3.5 of one's own beats would have been 35 s
        assert one.status("u") == "online"
