"""The seam for several processes: the Relay an EventBus hands its published events to, and
the text form (JSON) in which an event crosses to another process.

A PostgreSQL LISTEN/NOTIFY relay fits here without changing publishers or subscribers:

- outbound, `EventBus.publish` calls `relay.forward(message)` once per event, synchronously,
  after delivering it locally. `forward` must not block or raise: the relay puts the text on a
  bounded channel of its own, and a task it owns (started beside the store) sends it with
  `NOTIFY` (tagged with the process' id), dropping and logging when that channel is full;
- inbound, the relay's LISTEN task calls `bus.deliver(*decode_message(payload))` for every
  notification from another process, and skips its own (the bus already delivered those
  locally). `deliver` never forwards, so events do not echo between processes.

Order per topic holds across processes as long as the relay keeps the order it was given.

Size: a message is at most `MAX_MESSAGE_BYTES`, so it fits one PostgreSQL notification (fewer
than 8,000 bytes) with the relay's tag. `encode_message` refuses a larger one (`EventTooLarge`),
so `publish` fails at once, in one process as in several, rather than an event being lost on
the way: an event names what is stored (ids) and carries only small, short-lived state.
"""

from __future__ import annotations

import json
from typing import Protocol

from veza.events.event import Event, decode_event
from veza.events.topics import check_topic

# PostgreSQL takes a NOTIFY payload of fewer than 8,000 bytes; the relay's tag (a process id
# and a sequence number) takes at most a few dozen of them.
MAX_MESSAGE_BYTES = 7_900


class EventTooLarge(ValueError):
    """The event's message is longer than MAX_MESSAGE_BYTES: publish ids, not contents."""


class Relay(Protocol):
    def forward(self, message: str) -> None:
        """Carry `message` (from `encode_message`) to the other processes; never blocks."""


def encode_message(topic: str, event: Event) -> str:
    """One published event as JSON text (ASCII: characters are bytes); TypeError if a field
    is not a JSON value, EventTooLarge if the text exceeds MAX_MESSAGE_BYTES."""
    message = json.dumps(
        {"topic": topic, "type": event.type, "data": event.to_dict()},
        separators=(",", ":"),
        allow_nan=False,
    )
    if len(message) > MAX_MESSAGE_BYTES:
        raise EventTooLarge(
            f"event {event.type} on {topic} is {len(message)} bytes as JSON, more than the"
            f" {MAX_MESSAGE_BYTES} that can cross to another process: carry ids and read the"
            " rest from the store"
        )
    return message


def decode_message(message: str) -> tuple[str, Event]:
    """The topic and event of a message made by `encode_message`; ValueError if malformed."""
    try:
        fields = json.loads(message)
        topic, name, data = fields["topic"], fields["type"], fields["data"]
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"malformed event message: {exc}") from None
    if not isinstance(topic, str) or not isinstance(name, str) or not isinstance(data, dict):
        raise ValueError("malformed event message: topic, type and data have the wrong types")
    return check_topic(topic), decode_event(name, data)
