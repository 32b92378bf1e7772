"""The PostgreSQL relay: buses of several processes sharing one database behave as one bus.

Each "process" here is a bus with its relay, its own LISTEN connection and process id, on a
real PostgreSQL database (a fresh schema per test); the end-to-end tests run the app itself.
The PostgreSQL adapter is imported inside the tests, as Veza does: importing trio-asyncio at
collection would change asyncio for every other test (Playwright's loop among them).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlsplit, urlunsplit

import pytest
import trio

from tests.support import eventually, require_postgres
from tests.support.postgres import postgres_schema
from veza.errors import DatabaseError
from veza.events import (
    MAX_MESSAGE_BYTES,
    Delivery,
    Event,
    EventBus,
    EventTooLarge,
    Subscription,
    SubscriptionLagged,
    encode_message,
)
from veza.events.postgres_relay import (
    BACKOFF_MIN_S,
    PING_INTERVAL_S,
    PING_TIMEOUT_S,
    PostgresRelay,
)
from veza.store.database import Database

if TYPE_CHECKING:
    from veza.store.notify import PostgresNotifications

T = "track:t"


@dataclass(frozen=True)
class Beat(Event):
    type: ClassVar[str] = "test.relay.beat"
    n: int
    text: str = ""


@dataclass
class Shared:
    """One PostgreSQL database (schema) that several processes share."""

    database: Database
    url: str  # with its search_path, as a process would be configured


@pytest.fixture
async def shared() -> AsyncIterator[Shared]:
    url = require_postgres()
    async with postgres_schema(url) as database:
        row = await database.fetch_one("SELECT current_schema() AS schema")
        assert row is not None
        yield Shared(database, f"{url}?search_path={row['schema']}")


@dataclass
class Process:
    bus: EventBus
    relay: PostgresRelay
    notifications: PostgresNotifications


@asynccontextmanager
async def process(shared: Shared, name: str, **relay_options: int) -> AsyncIterator[Process]:
    """A bus and its relay, running (LISTEN active) for the body of the block."""
    from veza.store.notify import PostgresNotifications

    notifications = PostgresNotifications(
        shared.database, shared.url, application_name=f"veza test {name}"
    )
    relay = PostgresRelay(notifications, **relay_options)  # type: ignore[arg-type]
    bus = EventBus(relay=relay)
    async with trio.open_nursery() as nursery:
        await nursery.start(relay.run, bus)
        yield Process(bus, relay, notifications)
        nursery.cancel_scope.cancel()


async def receive_beats(subscription: Subscription, count: int) -> list[int]:
    beats = []
    with trio.fail_after(10):
        for _ in range(count):
            delivery = await subscription.receive()
            assert isinstance(delivery.event, Beat)
            beats.append(delivery.event.n)
    return beats


async def terminate_listener(shared: Shared, name: str) -> None:
    """What an administrator or a failover does to a connection: end it from the server."""
    rows = await shared.database.fetch_all(
        "SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE application_name = ?",
        (f"veza test {name}",),
    )
    assert [row["done"] for row in rows] == [True]


async def test_events_published_in_one_process_reach_the_others_in_order_without_echo(
    shared: Shared,
) -> None:
    async with (
        process(shared, "a") as a,
        process(shared, "b") as b,
        process(shared, "c") as c,
        a.bus.subscribe(T, size=512) as on_a,
        b.bus.subscribe(T, size=512) as on_b,
        c.bus.subscribe(T, size=512) as on_c,
    ):
        # More than one NOTIFY batch, published without a pause: order holds across batches.
        for n in range(300):
            a.bus.publish(T, Beat(n))
        assert await receive_beats(on_b, 300) == list(range(300))
        assert await receive_beats(on_c, 300) == list(range(300))
        assert await receive_beats(on_a, 300) == list(range(300))  # delivered locally
        b.bus.publish(T, Beat(1000, "from b"))
        assert await receive_beats(on_c, 1) == [1000]
        # a's own 300 came back from PostgreSQL too, and were skipped: the next is b's.
        assert await receive_beats(on_a, 1) == [1000]
        assert await receive_beats(on_b, 1) == [1000]
        assert (a.relay.resyncs, b.relay.resyncs, c.relay.resyncs) == (0, 0, 0)
        assert a.bus.stats().published == 301  # each event counted once: no echo


async def test_a_dropped_listen_connection_makes_subscribers_resync_then_events_flow_again(
    shared: Shared,
) -> None:
    async with process(shared, "a") as a, process(shared, "b") as b:
        async with b.bus.subscribe(T) as on_b:
            a.bus.publish(T, Beat(1))
            assert await receive_beats(on_b, 1) == [1]
            await terminate_listener(shared, "b")
            # b listens again, then tells every subscriber: what was published meanwhile is
            # only in the store.
            with trio.fail_after(10), pytest.raises(SubscriptionLagged, match="other processes"):
                await on_b.receive()
        assert b.relay.resyncs == 1
        async with b.bus.subscribe(T) as on_b:
            a.bus.publish(T, Beat(2))
            assert await receive_beats(on_b, 1) == [2]


async def test_events_dropped_on_the_way_out_make_the_receivers_resync(shared: Shared) -> None:
    async with (
        process(shared, "a", queue_size=2) as a,
        process(shared, "b") as b,
        b.bus.subscribe(T) as on_b,
    ):
        for n in range(5):  # no checkpoint between them: the sender has no chance to drain
            a.bus.publish(T, Beat(n))
        # Two queued, and one more if the sender was already waiting for it.
        kept = 5 - a.relay.lost_outbound
        assert kept in (2, 3)
        assert await receive_beats(on_b, kept) == list(range(kept))
        a.bus.publish(T, Beat(5))  # numbered 6: b sees a hole before it
        with trio.fail_after(10), pytest.raises(SubscriptionLagged):
            await on_b.receive()
    assert b.relay.resyncs == 1


async def test_the_largest_event_crosses_and_a_larger_one_is_refused_at_publish(
    shared: Shared,
) -> None:
    envelope = len(encode_message(T, Beat(0)))
    largest = Beat(0, "x" * (MAX_MESSAGE_BYTES - envelope))
    async with process(shared, "a") as a, process(shared, "b") as b:
        async with b.bus.subscribe(T) as on_b:
            a.bus.publish(T, largest)
            with pytest.raises(EventTooLarge):
                a.bus.publish(T, Beat(1, "x" * MAX_MESSAGE_BYTES))
            a.bus.publish(T, Beat(2))
            with trio.fail_after(10):
                assert await on_b.receive() == Delivery(T, largest)
            assert await receive_beats(on_b, 1) == [2]  # nothing lost, no resync
        assert b.relay.resyncs == 0


async def test_processes_in_other_schemas_do_not_hear_each_other(shared: Shared) -> None:
    from veza.store.notify import channel_for
    from veza.store.postgres import open_postgres

    url = require_postgres()
    schema = f"{shared.url.rsplit('=', 1)[1]}_other"
    await shared.database.execute(f"CREATE SCHEMA {schema}")
    try:
        async with open_postgres(url, search_path=schema) as elsewhere:
            other = Shared(elsewhere, f"{url}?search_path={schema}")
            async with (
                process(shared, "a") as a,
                process(other, "z") as z,
                process(shared, "b") as b,
                z.bus.subscribe(T) as on_z,
                b.bus.subscribe(T) as on_b,
            ):
                a.bus.publish(T, Beat(1))
                z.bus.publish(T, Beat(2))
                a.bus.publish(T, Beat(3))
                assert await receive_beats(on_b, 2) == [1, 3]
                assert await receive_beats(on_z, 1) == [2]  # its own, delivered locally
                assert z.bus.stats().published == 1  # a's never reached it
    finally:
        await shared.database.execute(f"DROP SCHEMA {schema} CASCADE")
    assert channel_for("public") == "veza_events"
    assert channel_for(schema) == f"veza_events_{schema}"


async def test_a_relay_that_cannot_listen_fails_its_start(shared: Shared) -> None:
    from veza.store.notify import PostgresNotifications

    parts = urlsplit(shared.url)
    nowhere = urlunsplit(parts._replace(path="/veza_no_such_database"))
    notifications = PostgresNotifications(shared.database, nowhere, application_name="x")
    relay = PostgresRelay(notifications)
    with pytest.RaisesGroup(
        pytest.RaisesExc(DatabaseError, match="cannot listen for events"), flatten_subgroups=True
    ):
        await relay.run(EventBus(relay=relay))


async def test_a_relay_stops_when_cancelled_and_closes_its_connection(shared: Shared) -> None:
    async with process(shared, "a"):
        assert await listeners(shared, "a") == 1

    async def closed() -> bool:
        return await listeners(shared, "a") == 0

    await eventually(closed, limit_s=10)


async def listeners(shared: Shared, name: str) -> int:
    row = await shared.database.fetch_one(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = ?",
        (f"veza test {name}",),
    )
    assert row is not None
    return int(row["n"])


class SilentDatabase:
    """The seam's other side, standing for a network that went quiet: the LISTEN connection
    neither delivers nor closes, and a ping never gets an answer. (No PostgreSQL can be made to
    do that on demand; the relay's own code runs unchanged.)"""

    def __init__(self) -> None:
        self.listens = 0
        self._open: list[trio.MemorySendChannel[str]] = []

    async def notify(self, payloads: Sequence[str]) -> None:
        pass

    @asynccontextmanager
    async def listen(self, size: int) -> AsyncIterator[SilentDatabase]:
        self.listens += 1
        send, self._payloads = trio.open_memory_channel[str](size)
        self._open.append(send)  # never closed: the connection looks alive
        yield self

    @property
    def payloads(self) -> trio.MemoryReceiveChannel[str]:
        return self._payloads

    async def ping(self) -> None:
        await trio.sleep_forever()


async def test_a_listen_connection_that_goes_quiet_is_pinged_given_up_and_reopened(
    autojump_clock: trio.abc.Clock,
) -> None:
    silent = SilentDatabase()
    relay = PostgresRelay(silent)
    bus = EventBus(relay=relay)
    async with trio.open_nursery() as nursery:
        await nursery.start(relay.run, bus)
        async with bus.subscribe(T) as subscription:
            started = trio.current_time()
            with pytest.raises(SubscriptionLagged):
                await subscription.receive()
            # 10 s without a notification, a ping unanswered for 5 s, then at once a new one.
            assert trio.current_time() - started == pytest.approx(
                PING_INTERVAL_S + PING_TIMEOUT_S + BACKOFF_MIN_S
            )
        assert (silent.listens, relay.resyncs) == (2, 1)
        nursery.cancel_scope.cancel()
