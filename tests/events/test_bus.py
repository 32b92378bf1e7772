"""The event bus: order, fan-out, the drop rule, lifetimes, topics, the JSON form, the relay."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest
import trio
import trio.testing

from veza.events import (
    DEFAULT_QUEUE_SIZE,
    MAX_MESSAGE_BYTES,
    BusStats,
    Delivery,
    Event,
    EventBus,
    EventTooLarge,
    InvalidTopic,
    Subscription,
    SubscriptionLagged,
    decode_event,
    decode_message,
    encode_message,
    topic,
)

A, B, C = "track:a", "track:b", "user:c"


@dataclass(frozen=True)
class Tick(Event):
    type: ClassVar[str] = "test.tick"
    n: int


@dataclass(frozen=True)
class Note(Event):
    type: ClassVar[str] = "test.note"
    text: str
    level: float | None = None
    tags: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    done: bool = False


@dataclass(frozen=True)
class Opaque(Event):
    type: ClassVar[str] = "test.opaque"
    value: object


def publish_ticks(bus: EventBus, name: str, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        bus.publish(name, Tick(n))


async def receive(subscription: Subscription) -> Delivery:
    """The next delivery, or a failure instead of a hang when none comes."""
    with trio.fail_after(5):
        return await subscription.receive()


async def receive_ticks(subscription: Subscription, count: int) -> list[int]:
    received = []
    for _ in range(count):
        delivery = await receive(subscription)
        assert isinstance(delivery.event, Tick)
        received.append(delivery.event.n)
    return received


# Order and fan-out


async def test_each_subscription_receives_its_topics_in_publish_order() -> None:
    bus = EventBus()
    async with bus.subscribe(A, size=3000) as only_a, bus.subscribe(A, B, size=3000) as both:
        for n in range(1000):
            bus.publish(A if n % 3 else B, Tick(n))
        expected_a = [n for n in range(1000) if n % 3]
        assert await receive_ticks(only_a, len(expected_a)) == expected_a
        assert await receive_ticks(both, 1000) == list(range(1000))


async def test_a_subscription_gets_the_topics_it_covers_and_only_those() -> None:
    bus = EventBus()
    async with bus.subscribe(A, C) as subscription:
        bus.publish(A, Tick(1))
        bus.publish(B, Tick(2))
        bus.publish(C, Tick(3))
        bus.publish(A, Tick(4))  # the marker: anything from B would have come before it
        received = [await receive(subscription) for _ in range(3)]
    assert received == [Delivery(A, Tick(1)), Delivery(C, Tick(3)), Delivery(A, Tick(4))]


async def test_async_iteration_yields_deliveries() -> None:
    bus = EventBus()
    async with bus.subscribe(A) as subscription:
        publish_ticks(bus, A, 5)
        received = []
        async for delivery in subscription:
            received.append(delivery.event.n)
            if len(received) == 5:
                break
    assert received == [0, 1, 2, 3, 4]


# The direct handler


async def test_a_direct_handler_takes_what_arrives_while_its_owner_waits_with_nothing_queued() -> (
    None
):
    bus = EventBus()
    taken: list[int] = []

    def direct(delivery: Delivery) -> bool:
        assert isinstance(delivery.event, Tick)
        taken.append(delivery.event.n)
        return delivery.event.n != 2  # declines 2: queued, and so is what comes after it

    async with bus.subscribe(A, direct=direct) as subscription:
        publish_ticks(bus, A, 2)  # the owner is not in `receive` yet: queued
        assert await receive_ticks(subscription, 2) == [0, 1]
        assert taken == []
        received: list[int] = []
        async with trio.open_nursery() as nursery:

            async def owner() -> None:
                async for delivery in subscription:
                    assert isinstance(delivery.event, Tick)
                    received.append(delivery.event.n)

            nursery.start_soon(owner)
            await trio.testing.wait_all_tasks_blocked()
            publish_ticks(bus, A, 5, start=2)  # 2 declined; 3 to 6 queue behind it
            await trio.testing.wait_all_tasks_blocked()
            publish_ticks(bus, A, 2, start=7)  # the owner waits again: 7 and 8 taken
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
        assert received == [2, 3, 4, 5, 6]
        assert taken == [2, 7, 8]
    assert bus.stats().dropped == 0


async def test_a_direct_handler_that_raises_has_its_delivery_queued() -> None:
    bus = EventBus()

    def direct(delivery: Delivery) -> bool:
        raise RuntimeError("a bug in the handler")

    async with bus.subscribe(A, direct=direct) as subscription, trio.open_nursery() as nursery:
        received: list[int] = []

        async def owner() -> None:
            received.extend(await receive_ticks(subscription, 1))

        nursery.start_soon(owner)
        await trio.testing.wait_all_tasks_blocked()
        bus.publish(A, Tick(1))  # the publisher is not hurt
    assert received == [1]


async def test_what_a_direct_handler_takes_does_not_count_against_the_queue() -> None:
    bus = EventBus()
    taken: list[int] = []

    def direct(delivery: Delivery) -> bool:
        assert isinstance(delivery.event, Tick)
        taken.append(delivery.event.n)
        return True

    async with bus.subscribe(A, size=1, direct=direct) as subscription:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(subscription.receive)
            await trio.testing.wait_all_tasks_blocked()
            publish_ticks(bus, A, 100)
            nursery.cancel_scope.cancel()
        assert taken == list(range(100))
        assert bus.stats().dropped == 0


# The drop rule


async def test_a_slow_subscriber_is_dropped_and_told_while_a_fast_one_gets_everything() -> None:
    bus = EventBus()
    count = 5000
    slow_got: list[int] = []

    async def slow_subscriber(task_status: trio.TaskStatus[None]) -> None:
        async with bus.subscribe(A, size=8) as slow:
            task_status.started()
            with pytest.raises(SubscriptionLagged, match="more than 8 events"):
                async for delivery in slow:
                    assert isinstance(delivery.event, Tick)
                    slow_got.append(delivery.event.n)
                    await trio.sleep(0.01)

    async with trio.open_nursery() as nursery, bus.subscribe(A, size=count) as fast:
        await nursery.start(slow_subscriber)
        # Plain calls, no checkpoint: the slow task cannot run until all are published.
        publish_ticks(bus, A, count)
        assert bus.stats().dropped == 1
        assert await receive_ticks(fast, count) == list(range(count))
    # What the slow one got before the drop was a prefix; then it was told, not fed stale events.
    assert slow_got == list(range(len(slow_got)))
    assert len(slow_got) <= 9
    assert bus.stats() == BusStats(subscriptions=0, topics=0, published=count, dropped=1)


async def test_a_subscriber_is_dropped_only_when_its_queue_is_full() -> None:
    bus = EventBus()
    async with bus.subscribe(A, size=4) as subscription:
        for start in (0, 4, 8):  # a full queue, drained each time: never dropped
            publish_ticks(bus, A, 4, start)
            assert await receive_ticks(subscription, 4) == list(range(start, start + 4))
        assert bus.stats().dropped == 0
        publish_ticks(bus, A, 5, 12)
        assert bus.stats().dropped == 1
        assert bus.stats().subscriptions == 0
        with pytest.raises(SubscriptionLagged):
            await receive(subscription)


async def test_a_dropped_subscriber_receives_nothing_more_and_may_add_topics() -> None:
    bus = EventBus()
    async with bus.subscribe(A, size=1) as subscription:
        publish_ticks(bus, A, 2)
        subscription.add(B)  # a WebSocket `subscribe` frame racing the drop: harmless
        publish_ticks(bus, B, 1)
        assert bus.stats().topics == 0
        with pytest.raises(SubscriptionLagged):
            await receive(subscription)


def test_the_default_queue_size_and_a_queue_of_nothing_refused() -> None:
    assert DEFAULT_QUEUE_SIZE == 256
    with pytest.raises(ValueError, match="at least one"):
        EventBus().subscribe(A, size=0)


async def test_the_default_queue_holds_256_events() -> None:
    bus = EventBus()
    async with bus.subscribe(A) as subscription:
        publish_ticks(bus, A, DEFAULT_QUEUE_SIZE)
        assert bus.stats().dropped == 0
        bus.publish(A, Tick(-1))
        assert bus.stats().dropped == 1
        with pytest.raises(SubscriptionLagged):
            await receive(subscription)


# Lifetimes


async def test_leaving_the_block_unregisters() -> None:
    bus = EventBus()
    async with bus.subscribe(A, B) as subscription:
        assert (bus.stats().subscriptions, bus.stats().topics) == (1, 2)
    assert (bus.stats().subscriptions, bus.stats().topics) == (0, 0)
    bus.publish(A, Tick(1))  # nobody left to deliver to, nothing to fail
    with pytest.raises(trio.ClosedResourceError):
        await receive(subscription)


async def test_a_body_that_raises_leaves_no_registration() -> None:
    bus = EventBus()
    with pytest.raises(KeyError):
        async with bus.subscribe(A, B):
            raise KeyError("boom")
    assert (bus.stats().subscriptions, bus.stats().topics) == (0, 0)


async def test_a_cancelled_subscriber_leaves_no_registration() -> None:
    bus = EventBus()
    entered = trio.Event()

    async def subscriber() -> None:
        async with bus.subscribe(A, B) as subscription:
            entered.set()
            async for _ in subscription:
                pass

    async with trio.open_nursery() as nursery:
        nursery.start_soon(subscriber)
        await entered.wait()
        assert bus.stats().subscriptions == 1
        nursery.cancel_scope.cancel()
    assert (bus.stats().subscriptions, bus.stats().topics) == (0, 0)


async def test_a_subscription_is_entered_once_and_received_from_only_inside() -> None:
    bus = EventBus()
    subscription = bus.subscribe(A)
    bus.publish(A, Tick(1))
    assert bus.stats().subscriptions == 0  # not registered before its block
    with pytest.raises(RuntimeError, match="async with"):
        await receive(subscription)
    async with subscription:
        pass
    with pytest.raises(RuntimeError, match="once"):
        async with subscription:
            pass


# Adding and removing topics


async def test_topics_can_be_added_and_discarded_while_open() -> None:
    bus = EventBus()
    async with bus.subscribe(A) as subscription:
        subscription.add(B)
        assert subscription.topics == {A, B}
        bus.publish(B, Tick(1))
        assert await receive(subscription) == Delivery(B, Tick(1))
        subscription.discard(A)
        subscription.discard(C)  # not subscribed: nothing to do
        assert (subscription.topics, bus.stats().topics) == ({B}, 1)
        bus.publish(A, Tick(2))
        bus.publish(B, Tick(3))
        assert await receive(subscription) == Delivery(B, Tick(3))
    assert bus.stats().topics == 0


async def test_topics_added_before_entering_are_registered_on_entry() -> None:
    bus = EventBus()
    subscription = bus.subscribe()
    subscription.add(C)
    async with subscription:
        bus.publish(C, Tick(1))
        assert await receive(subscription) == Delivery(C, Tick(1))


async def test_a_topic_shared_by_two_subscriptions_stays_while_either_holds_it() -> None:
    bus = EventBus()
    async with bus.subscribe(A) as first, bus.subscribe(A) as second:
        first.discard(A)
        assert bus.stats().topics == 1
        bus.publish(A, Tick(1))
        assert await receive(second) == Delivery(A, Tick(1))


# Topics


def test_topic_builds_kind_colon_id() -> None:
    assert topic("track", "ab12") == "track:ab12"
    assert topic("user", 42) == "user:42"
    for kind in ("conversation", "playlist", "room"):
        assert topic(kind, "x") == f"{kind}:x"


BAD_TOPICS = [
    "",
    "track",
    "track:",
    ":abc",
    "song:1",
    "Track:1",
    "track:a:b",
    "track:a b",
    "track:a\n",
    "track:\x00",
    "track:" + "x" * 129,
]


@pytest.mark.parametrize("name", BAD_TOPICS)
async def test_malformed_topics_are_refused_everywhere(name: str) -> None:
    bus = EventBus()
    with pytest.raises(InvalidTopic):
        bus.publish(name, Tick(1))
    with pytest.raises(InvalidTopic):
        bus.deliver(name, Tick(1))
    with pytest.raises(ValueError):  # InvalidTopic is a ValueError
        bus.subscribe(A, name)
    async with bus.subscribe(A) as subscription:
        with pytest.raises(InvalidTopic):
            subscription.add(name)
        with pytest.raises(InvalidTopic):
            subscription.discard(name)
    assert bus.stats().published == 0


def test_topic_refuses_unknown_kinds_and_bad_ids() -> None:
    assert topic("track", "x" * 128) == "track:" + "x" * 128
    for kind, ident in [("song", "1"), ("track", "a:b"), ("track", ""), ("track", "x" * 129)]:
        with pytest.raises(InvalidTopic):
            topic(kind, ident)


# The JSON form


def test_an_event_survives_a_json_round_trip() -> None:
    note = Note("hi", level=0.5, tags=["a", "b"], extra={"k": [1, None]}, done=True)
    data = json.loads(json.dumps(note.to_dict()))
    assert data == {
        "text": "hi",
        "level": 0.5,
        "tags": ["a", "b"],
        "extra": {"k": [1, None]},
        "done": True,
    }
    assert decode_event("test.note", data) == note
    assert decode_event("test.tick", {"n": 3}) == Tick(3)


def test_a_message_carries_topic_and_event() -> None:
    message = encode_message(A, Note("hi"))
    assert json.loads(message)["type"] == "test.note"
    assert decode_message(message) == (A, Note("hi"))


@pytest.mark.parametrize(
    ("name", "data"),
    [("test.nope", {"n": 1}), ("test.tick", {}), ("test.tick", {"n": 1, "m": 2})],
)
def test_decoding_refuses_unknown_types_and_wrong_fields(name: str, data: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        decode_event(name, data)


@pytest.mark.parametrize(
    "message",
    [
        "not json",
        "[]",
        '{"topic": "track:a", "type": "test.tick"}',
        '{"topic": "song:a", "type": "test.tick", "data": {"n": 1}}',
        '{"topic": "track:a", "type": "test.tick", "data": [1]}',
    ],
)
def test_decoding_refuses_malformed_messages(message: str) -> None:
    with pytest.raises(ValueError):
        decode_message(message)


async def test_an_event_that_is_not_json_is_refused_before_any_delivery() -> None:
    bus = EventBus()
    async with bus.subscribe(A) as subscription:
        with pytest.raises(TypeError):
            bus.publish(A, Opaque({1, 2}))
        bus.publish(A, Tick(1))
        assert await receive(subscription) == Delivery(A, Tick(1))


def test_event_classes_need_their_own_unique_type() -> None:
    with pytest.raises(TypeError, match="already used"):

        @dataclass(frozen=True)
        class Clash(Event):
            type: ClassVar[str] = "test.tick"

    with pytest.raises(TypeError, match="must declare"):

        @dataclass(frozen=True)
        class Untyped(Tick):
            pass

    assert decode_event("test.tick", {"n": 1}) == Tick(1)


def test_a_slotted_event_class_registers_once() -> None:
    @dataclass(frozen=True, slots=True)
    class Slotted(Event):
        type: ClassVar[str] = "test.slotted"
        n: int

    assert type(decode_event("test.slotted", {"n": 1})) is Slotted


# The relay seam


class Wire:
    """A test double of the seam: carries each forwarded message, as text, to other buses the
    way a LISTEN task would, and keeps what it carried."""

    def __init__(self) -> None:
        self.peers: list[EventBus] = []
        self.messages: list[str] = []

    def forward(self, message: str) -> None:
        self.messages.append(message)
        for peer in self.peers:
            peer.deliver(*decode_message(message))


async def test_a_relay_carries_events_from_one_bus_to_another_without_echo() -> None:
    wire_a, wire_b = Wire(), Wire()
    bus_a, bus_b = EventBus(relay=wire_a), EventBus(relay=wire_b)
    wire_a.peers.append(bus_b)
    wire_b.peers.append(bus_a)
    notes = [Note(f"n{n}", tags=[str(n)]) for n in range(3)]
    async with bus_a.subscribe(A) as on_a, bus_b.subscribe(A) as on_b:
        for note in notes:
            bus_a.publish(A, note)
        bus_b.publish(A, Tick(9))
        expected = [*(Delivery(A, note) for note in notes), Delivery(A, Tick(9))]
        from_a, from_b = (
            [await receive(on_a) for _ in range(4)],
            [await receive(on_b) for _ in range(4)],
        )
        # Each event once on each side, in order: deliver never forwards, so nothing echoes.
        publish_ticks(bus_a, A, 1, start=10)
        assert (await receive(on_a), await receive(on_b)) == (Delivery(A, Tick(10)),) * 2
    assert from_a == from_b == expected
    assert from_b[0].event is not notes[0]  # it crossed as text, not as the object
    assert from_a[0].event is notes[0]  # local subscribers get the object itself
    assert (len(wire_a.messages), len(wire_b.messages)) == (4, 1)


async def test_resync_all_drops_every_subscription_even_one_waiting_in_receive() -> None:
    bus = EventBus()
    caught: list[str] = []

    async def wait_on(subscription: Subscription) -> None:
        with pytest.raises(SubscriptionLagged) as lagged:
            await subscription.receive()
        caught.append(str(lagged.value))

    async with bus.subscribe(A) as waiting, bus.subscribe(A, B) as holding:
        publish_ticks(bus, A, 2)
        async with trio.open_nursery() as nursery:
            await receive_ticks(waiting, 2)
            nursery.start_soon(wait_on, waiting)
            await trio.testing.wait_all_tasks_blocked()
            assert bus.resync_all() == 2
        # What was queued is stale: the next receive is the news, not the queued events.
        with pytest.raises(SubscriptionLagged, match="from other processes"):
            await holding.receive()
        assert bus.stats() == BusStats(subscriptions=0, topics=0, published=2, dropped=2)
        publish_ticks(bus, A, 1)  # reaches nobody, raises nothing
        async with bus.subscribe(A) as fresh:
            publish_ticks(bus, A, 1, start=5)
            assert await receive_ticks(fresh, 1) == [5]
    assert caught and "events from other processes may have been lost" in caught[0]
    assert bus.resync_all() == 0


def test_an_event_too_large_to_cross_is_refused_at_publish_with_or_without_a_relay() -> None:
    # The envelope of a note is {"topic":"track:a","type":"test.note","data":{"text":"..."...}}.
    envelope = len(encode_message(A, Note("")))
    largest = Note("x" * (MAX_MESSAGE_BYTES - envelope))
    assert len(encode_message(A, largest)) == MAX_MESSAGE_BYTES
    wire = Wire()
    for bus in (EventBus(), EventBus(relay=wire)):
        bus.publish(A, largest)
        # JSON escapes what is not ASCII: six bytes for "é", twelve for an emoji.
        with pytest.raises(EventTooLarge, match="carry ids"):
            bus.publish(A, Note("é" * (MAX_MESSAGE_BYTES // 6)))
    assert len(wire.messages) == 1
    assert issubclass(EventTooLarge, ValueError)
