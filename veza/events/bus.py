"""The in-process event bus: topics to subscriptions, each with a bounded queue.

`publish` is synchronous and never waits: each matching subscription gets the event with
`send_nowait` on its own memory channel. A subscription whose queue is full has fallen behind;
it is dropped on the spot (unregistered, its queue discarded) and its next `receive` raises
`SubscriptionLagged`, so its owner resynchronises from the store. Nothing is buffered without
bound and a slow subscriber never slows the publisher or the other subscribers. `resync_all`
drops every subscription the same way, for a relay that may have lost events of other processes.

A subscription is an async context manager owned by the subscriber's task: it is registered on
entry and unregistered on exit, whatever ends the block. The bus starts no task of its own.
Events reach a subscription in publish order. Must be used from the Trio thread (a worker
thread publishes through `trio.from_thread.run_sync(bus.publish, ...)`).

A subscription may have a `direct` handler: while its owner waits in `receive` with nothing
queued, a delivery is first offered to the handler, synchronously in the publisher's call. If
the handler takes it (returns True), nothing is queued and no task wakes: one scheduler trip
less per subscriber and event, for a subscriber whose work per event is usually a few
statements that never wait (a WebSocket putting a built frame on its outbound queue). A delivery
the handler declines, or that arrives while the owner is busy or events are queued, is queued
as usual, so events still reach the subscription in publish order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

import trio

from veza.events.event import Event
from veza.events.relay import Relay, encode_message
from veza.events.topics import check_topic

DEFAULT_QUEUE_SIZE = 256

log = logging.getLogger("veza.events")


class SubscriptionLagged(Exception):
    """The subscription fell behind and was dropped; resynchronise from the store."""


@dataclass(frozen=True)
class Delivery:
    """One event as a subscriber receives it, with the topic it was published on."""

    topic: str
    event: Event


@dataclass(frozen=True)
class BusStats:
    subscriptions: int  # open subscriptions (a dropped one no longer counts)
    topics: int  # topics with at least one subscription
    published: int  # events given to publish or deliver
    dropped: int  # subscriptions dropped for lagging


class EventBus:
    def __init__(self, *, relay: Relay | None = None) -> None:
        """`relay`, when given, carries every published event to other processes (see
        `veza.events.relay`)."""
        self._relay = relay
        self._by_topic: dict[str, set[Subscription]] = {}
        self._open: set[Subscription] = set()
        self._published = 0
        self._dropped = 0

    def subscribe(
        self,
        *topics: str,
        size: int = DEFAULT_QUEUE_SIZE,
        direct: Callable[[Delivery], bool] | None = None,
    ) -> Subscription:
        """A subscription to `topics`, holding at most `size` undelivered events; use it as
        `async with bus.subscribe(...) as subscription: async for delivery in subscription`.

        `direct(delivery)`, when given, is offered each delivery that arrives while the owner
        waits in `receive` with nothing queued; True means it handled it (nothing is queued),
        False queues it. It runs in the publisher's call: it must not block, and should not
        raise (an exception is logged and the delivery queued)."""
        return Subscription(self, topics, size, direct)

    def publish(self, topic: str, event: Event) -> None:
        """Deliver `event` to this process' subscribers of `topic` and hand it to the relay.

        Never blocks. Always encoded, before any delivery: an event that could not cross to
        another process fails here (TypeError) with or without a relay configured.
        """
        message = encode_message(check_topic(topic), event)
        self._fan_out(topic, event)
        if self._relay is not None:
            self._relay.forward(message)

    def deliver(self, topic: str, event: Event) -> None:
        """Deliver `event` to this process' subscribers of `topic` only: what a relay calls for
        an event published by another process. Never blocks, never forwards."""
        self._fan_out(check_topic(topic), event)

    def resync_all(self) -> int:
        """Drop every open subscription, as if each had lagged: its next `receive` raises
        SubscriptionLagged and its owner resynchronises from the store. What a relay calls when
        events from other processes may have been lost (its LISTEN connection dropped and came
        back). Returns how many subscriptions were dropped."""
        dropped = tuple(self._open)
        for subscription in dropped:
            subscription._drop("events from other processes may have been lost")
        self._dropped += len(dropped)
        return len(dropped)

    def stats(self) -> BusStats:
        return BusStats(len(self._open), len(self._by_topic), self._published, self._dropped)

    def _fan_out(self, topic: str, event: Event) -> None:
        self._published += 1
        delivery = Delivery(topic, event)
        # A copy: a lagging subscription leaves the set while we walk it.
        for subscription in tuple(self._by_topic.get(topic, ())):
            if not subscription._offer(delivery):
                self._dropped += 1

    def _register(self, subscription: Subscription, topics: Iterable[str]) -> None:
        self._open.add(subscription)
        for name in topics:
            self._by_topic.setdefault(name, set()).add(subscription)

    def _unregister(self, subscription: Subscription, topics: Iterable[str]) -> None:
        for name in topics:
            subscribers = self._by_topic.get(name)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._by_topic[name]

    def _close(self, subscription: Subscription) -> None:
        self._unregister(subscription, subscription.topics)
        self._open.discard(subscription)


class Subscription:
    """Events of some topics for one subscriber, in publish order; see `EventBus.subscribe`.

    Registered only inside its `async with` block. After a drop, every `receive` raises
    `SubscriptionLagged` at once: what is still queued comes before a gap, and the subscriber
    has to resynchronise from the store anyway, so handing it stale events first would only
    delay that.
    """

    def __init__(
        self,
        bus: EventBus,
        topics: Iterable[str],
        size: int,
        direct: Callable[[Delivery], bool] | None = None,
    ) -> None:
        if size < 1:
            raise ValueError(f"a subscription queue holds at least one event, not {size}")
        self._bus = bus
        self._topics = {check_topic(name) for name in topics}
        self._size = size
        self._send, self._receive = trio.open_memory_channel[Delivery](size)
        self._state: Literal["new", "open", "lagged", "closed"] = "new"
        self._lag_reason = ""
        self._direct = direct
        # True while the owner waits in `receive` on an empty queue and nothing was handed to
        # it since: only then may `direct` take a delivery without overtaking a queued one.
        self._idle = False

    @property
    def topics(self) -> frozenset[str]:
        return frozenset(self._topics)

    def add(self, topic: str) -> None:
        """Receive the events of `topic` too, from now on."""
        check_topic(topic)
        self._topics.add(topic)
        if self._state == "open":
            self._bus._register(self, [topic])

    def discard(self, topic: str) -> None:
        """Stop receiving the events of `topic` (those already queued stay)."""
        check_topic(topic)
        self._topics.discard(topic)
        if self._state == "open":
            self._bus._unregister(self, [topic])

    async def receive(self) -> Delivery:
        """The next delivery; raises SubscriptionLagged once the subscription was dropped."""
        if self._state == "new":
            raise RuntimeError("enter the subscription (async with) before receiving")
        if self._state == "lagged":
            raise self._lagged()
        # Idle only when the queue is empty: a queued delivery comes before any direct one.
        self._idle = self._direct is not None and not self._receive.statistics().current_buffer_used
        try:
            return await self._receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            # Dropped while waiting (by `resync_all`): the same news as a drop seen first.
            if self._lag_reason:
                raise self._lagged() from None
            raise
        finally:
            self._idle = False

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Delivery:
        return await self.receive()

    async def __aenter__(self) -> Subscription:
        if self._state != "new":
            raise RuntimeError("a subscription can be entered only once")
        self._state = "open"
        self._bus._register(self, self._topics)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # No checkpoint here: cancellation cannot leave the subscription registered.
        self._bus._close(self)
        self._state = "closed"
        self._send.close()
        self._receive.close()

    def _offer(self, delivery: Delivery) -> bool:
        """Hand `delivery` to the direct handler or queue it; False if the queue was full and
        the subscription is now dropped."""
        if self._idle and self._direct is not None:
            try:
                if self._direct(delivery):
                    return True
            except Exception:
                log.exception("direct delivery on %s failed: queued instead", delivery.topic)
        try:
            self._send.send_nowait(delivery)
        except trio.WouldBlock:
            self._drop(f"more than {self._size} events were waiting")
            return False
        # The owner has this one to handle before anything later: no direct delivery until it
        # waits again.
        self._idle = False
        return True

    def _drop(self, reason: str) -> None:
        self._state = "lagged"
        self._lag_reason = reason
        self._bus._close(self)
        # Both ends: the queued events are stale now, and memory is freed at once.
        self._send.close()
        self._receive.close()

    def _lagged(self) -> SubscriptionLagged:
        topics = ", ".join(sorted(self._topics))
        return SubscriptionLagged(f"dropped: {self._lag_reason} (topics: {topics})")
