"""The relay between processes that share a PostgreSQL database: every event published here is
sent with NOTIFY, and every notification from another process is delivered to this bus.

The PostgreSQL side (the SQL, asyncpg, the LISTEN connection) is `veza.store.notify`, since
asyncio stays inside the PostgreSQL adapter; this module owns what travels and the lifetimes:

- outbound, `forward` tags each message with this process' id and a sequence number
  (`"{process_id} {seq} {message}"`) and puts it on a bounded channel, never blocking; one
  sender task drains it, up to `BATCH` messages per NOTIFY round trip, in order;
- inbound, one task LISTENs on a dedicated connection, skips its own notifications, and calls
  `bus.deliver` for the others, in the order PostgreSQL committed them;
- nothing is lost silently: a full outbound channel or a failed NOTIFY leaves a hole in the
  sender's sequence, which each receiver notices (a number skipped); a dropped LISTEN
  connection is noticed at once (or by a ping within `PING_INTERVAL_S` when the network goes
  quiet) and re-opened with backoff. In each case the receiver calls `bus.resync_all()` once
  it listens again, so every local subscriber resynchronises from the store, which has
  everything that was committed.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

import trio

from veza.errors import DatabaseError
from veza.events.bus import EventBus
from veza.events.relay import decode_message

log = logging.getLogger(__name__)

QUEUE_SIZE = 4096  # outbound messages waiting for NOTIFY, and inbound ones waiting for the bus
BATCH = 64  # messages per NOTIFY round trip
NOTIFY_TIMEOUT_S = 10.0
DRAIN_TIMEOUT_S = 2.0  # at shutdown, for what is still queued
PING_INTERVAL_S = 10.0  # a quiet LISTEN connection is checked this often...
PING_TIMEOUT_S = 5.0  # ...and given up when it does not answer in this time
BACKOFF_MIN_S = 0.05
BACKOFF_MAX_S = 5.0
KNOWN_SENDERS = 1024  # the last sequence number of at most this many other processes


class Listening(Protocol):
    """A live LISTEN connection."""

    @property
    def payloads(self) -> trio.MemoryReceiveChannel[str]:
        """Notifications in commit order; ends (EndOfChannel) when the connection is lost or
        more than its size were waiting."""
        ...

    async def ping(self) -> None:
        """Raise DatabaseError when the connection no longer answers."""
        ...


class Notifications(Protocol):
    """One notification channel of a database (veza.store.notify.PostgresNotifications)."""

    async def notify(self, payloads: Sequence[str]) -> None:
        """Send `payloads`, in order, committed together; DatabaseError when it failed."""
        ...

    def listen(self, size: int) -> AbstractAsyncContextManager[Listening]:
        """A dedicated connection listening for the channel's notifications while open;
        DatabaseError when it cannot be opened."""
        ...


def new_process_id() -> str:
    """An id for this process on the channel: random, so a restarted process is a new sender."""
    return secrets.token_hex(6)


class PostgresRelay:
    """The Relay of an EventBus shared with other processes: `EventBus(relay=relay)`, then
    `await nursery.start(relay.run, bus)` for the life of the process."""

    def __init__(
        self,
        notifications: Notifications,
        *,
        process_id: str | None = None,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self.process_id = process_id or new_process_id()
        if not self.process_id or " " in self.process_id:
            raise ValueError("a process id is a non-empty word")
        self._notifications = notifications
        self._outbox, self._outbox_out = trio.open_memory_channel[str](queue_size)
        self._queue_size = queue_size
        self._seq = 0
        self._last_seen: dict[str, int] = {}  # sender -> its last sequence number received
        self.lost_outbound = 0  # messages this process could not send (counted, logged)
        self.resyncs = 0  # times the local subscribers were told to resynchronise

    def forward(self, message: str) -> None:
        """Queue `message` for NOTIFY; never blocks. When the queue is full it is dropped: its
        number is spent, so the other processes see the hole and resynchronise."""
        self._seq += 1
        try:
            self._outbox.send_nowait(f"{self.process_id} {self._seq} {message}")
        except (trio.WouldBlock, trio.ClosedResourceError):
            if self.lost_outbound == 0 or self.lost_outbound % 1000 == 0:
                log.warning(
                    "events to other processes are being dropped (%d so far): more than %d"
                    " waiting for NOTIFY",
                    self.lost_outbound + 1,
                    self._queue_size,
                )
            self.lost_outbound += 1

    async def run(
        self, bus: EventBus, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen and send until cancelled; started once the LISTEN connection is active (a
        database that refuses it at start-up fails the start with DatabaseError)."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self._listen, bus)
            nursery.start_soon(self._send)
            task_status.started()

    async def _send(self) -> None:
        try:
            async for first in self._outbox_out:
                await self._send_batch(first)
        finally:
            # Cancelled (the process is stopping): what was published until then still goes,
            # within DRAIN_TIMEOUT_S (a shutting-down process's last presence word and receipts).
            with trio.CancelScope(shield=True), trio.move_on_after(DRAIN_TIMEOUT_S):
                while True:
                    try:
                        first = self._outbox_out.receive_nowait()
                    except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                        break
                    await self._send_batch(first)

    async def _send_batch(self, first: str) -> None:
        batch = [first]
        while len(batch) < BATCH:
            try:
                batch.append(self._outbox_out.receive_nowait())
            except trio.WouldBlock:
                break
        try:
            with trio.fail_after(NOTIFY_TIMEOUT_S):
                await self._notifications.notify(batch)
        except (DatabaseError, trio.TooSlowError) as error:
            # Their numbers are spent: the receivers see the hole and resynchronise.
            self.lost_outbound += len(batch)
            log.warning("could not send %d events to other processes: %s", len(batch), error)

    async def _listen(self, bus: EventBus, *, task_status: trio.TaskStatus[None]) -> None:
        backoff = BACKOFF_MIN_S
        started = False
        while True:
            try:
                async with self._notifications.listen(self._queue_size) as listening:
                    self._last_seen.clear()
                    if not started:
                        started = True
                        task_status.started()
                    else:
                        # Listening again: whatever was published meanwhile is in the store.
                        self._resync(bus, "the LISTEN connection was re-opened")
                    backoff = BACKOFF_MIN_S
                    await self._receive(bus, listening)
                log.warning("lost the LISTEN connection to PostgreSQL; re-opening it")
            except (DatabaseError, trio.TooSlowError) as error:
                if not started:
                    raise DatabaseError(f"cannot listen for events: {error}") from error
                log.warning("the LISTEN connection to PostgreSQL failed: %s", error)
            await trio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_S)

    async def _receive(self, bus: EventBus, listening: Listening) -> None:
        """Until the connection is lost (returns) or stops answering (raises)."""
        while True:
            with trio.move_on_after(PING_INTERVAL_S) as quiet:
                try:
                    payload = await listening.payloads.receive()
                except trio.EndOfChannel:
                    return
            if quiet.cancelled_caught:
                with trio.fail_after(PING_TIMEOUT_S):
                    await listening.ping()
                continue
            self._accept(bus, payload)

    def _accept(self, bus: EventBus, payload: str) -> None:
        try:
            sender, number, message = payload.split(" ", 2)
            seq = int(number)
        except ValueError:
            log.warning("ignored a notification that is not an event: %.80r", payload)
            return
        if sender == self.process_id:
            return  # the bus delivered it locally when it was published
        last = self._last_seen.pop(sender, None)
        self._last_seen[sender] = seq  # re-inserted: the dict stays ordered by recency
        if len(self._last_seen) > KNOWN_SENDERS:
            del self._last_seen[next(iter(self._last_seen))]
        if last is not None and seq != last + 1:
            self._resync(bus, f"{seq - last - 1} events from process {sender} never arrived")
        try:
            topic, event = decode_message(message)
        except ValueError as error:
            # Another version of Veza, or an event type this process does not know.
            log.warning("ignored an event from process %s: %s", sender, error)
            return
        bus.deliver(topic, event)

    def _resync(self, bus: EventBus, why: str) -> None:
        self.resyncs += 1
        dropped = bus.resync_all()
        log.warning("%s; %d subscriptions told to resynchronise from the store", why, dropped)
