"""Presence: the pure state machine with plain numbers for time, and its owner task under
Trio's MockClock."""

from __future__ import annotations

import trio
from trio.testing import MockClock

from veza.chat.presence import PresenceChanged, PresenceOwner, PresenceState
from veza.events import EventBus, topic


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
    async with trio.open_nursery() as nursery:
        await nursery.start(owner.run)
        async with bus.subscribe(topic("conversation", "c2")) as subscription:
            await owner.connected("u")
            await owner.disconnected("u")
            async for delivery in subscription:
                assert isinstance(delivery.event, PresenceChanged)
                heard.append((delivery.event.status, delivery.event.origin))
                if delivery.event.status == "offline":
                    break
        assert trio.current_time() >= 10  # the grace, on Trio's clock
        nursery.cancel_scope.cancel()
    assert heard == [("online", "here"), ("offline", "here")]


def test_other_processes_count_for_users_known_here() -> None:
    state = PresenceState(away_after=300, offline_grace=10)
    assert state.merge("u", "other", "online") is False  # not known here: theirs to tell
    state.connected("u", now=0)
    state.choose("u", "away", now=0)
    assert state.merge("u", "other", "online") is True
    assert state.heard("u") == ["other"]
    assert (state.status("u"), state.shown("u")) == ("away", "online")
    assert state.merge("u", "other", "offline") is True
    assert state.heard("u") == []
    assert state.shown("u") == "away"
    state.merge("u", "other", "away")
    state.disconnected("u", now=1)
    state.due(11)
    assert state.status("u") == "offline" and state.shown("u") == "away"
    state.forget("u")
    assert state.shown("u") == "offline"


async def test_two_processes_show_a_user_online_until_both_have_let_go(
    autojump_clock: MockClock,
) -> None:
    bus = EventBus()  # one bus, two owners: two processes with a perfect relay

    async def audience(user_id: str) -> list[str]:
        return [topic("conversation", "c")]

    one = PresenceOwner(bus, audience, origin="one", offline_grace=10)
    two = PresenceOwner(bus, audience, origin="two", offline_grace=10)
    told: list[tuple[str, str, str]] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(one.run)
        await nursery.start(two.run)
        async with bus.subscribe(topic("conversation", "c")) as heard:

            async def next_told() -> None:
                event = (await heard.receive()).event
                assert isinstance(event, PresenceChanged)
                told.append((event.origin, event.status, event.local))

            await one.connected("u")
            await next_told()
            await two.connected("u")  # a second device, on the other process
            await next_told()
            await next_told()  # process one answers so that two counts it
            await two.disconnected("u")
            await next_told()  # two's sockets are gone; one still shows u online
            await one.disconnected("u")
            await next_told()
        nursery.cancel_scope.cancel()
    assert told == [
        ("one", "online", "online"),
        ("two", "online", "online"),
        ("one", "online", "online"),
        ("two", "online", "offline"),
        ("one", "offline", "offline"),
    ]


async def test_two_processes_letting_go_at_once_still_tell_offline(
    autojump_clock: MockClock,
) -> None:
    bus = EventBus()

    async def audience(user_id: str) -> list[str]:
        return [topic("conversation", "c")]

    one = PresenceOwner(bus, audience, origin="one", offline_grace=10)
    two = PresenceOwner(bus, audience, origin="two", offline_grace=10)
    async with trio.open_nursery() as nursery:
        await nursery.start(one.run)
        await nursery.start(two.run)
        await one.connected("u")
        await two.connected("u")
        await trio.sleep(1)  # each has counted the other
        async with bus.subscribe(topic("conversation", "c")) as heard:
            # Both graces end at the same instant: each lets go on the other's word...
            await one.disconnected("u")
            await two.disconnected("u")
            statuses = []
            with trio.fail_after(60):
                while not statuses or statuses[-1] != "offline":
                    event = (await heard.receive()).event
                    assert isinstance(event, PresenceChanged)
                    statuses.append(event.status)
            # ...and once each has heard the other let go, offline is told.
            assert statuses[-1] == "offline"
        nursery.cancel_scope.cancel()
