"""The in-process event bus: typed events published on `kind:id` topics, delivered to
subscriptions with bounded queues; a subscriber that falls behind is dropped and told.

- `bus.py`: EventBus, Subscription, the drop rule;
- `event.py`: the Event base class, its JSON form, decoding by type;
- `topics.py`: topic names;
- `relay.py`: the seam where a cross-process relay plugs in, and the size an event may have;
- `postgres_relay.py`: that relay over PostgreSQL LISTEN/NOTIFY (SQL side: veza/store/notify.py).

See docs/events.md.
"""

from veza.events.bus import (
    DEFAULT_QUEUE_SIZE,
    BusStats,
    Delivery,
    EventBus,
    Subscription,
    SubscriptionLagged,
)
from veza.events.event import Event, decode_event
from veza.events.relay import (
    MAX_MESSAGE_BYTES,
    EventTooLarge,
    Relay,
    decode_message,
    encode_message,
)
from veza.events.topics import TOPIC_KINDS, InvalidTopic, check_topic, topic

__all__ = [
    "DEFAULT_QUEUE_SIZE",
    "MAX_MESSAGE_BYTES",
    "TOPIC_KINDS",
    "BusStats",
    "Delivery",
    "Event",
    "EventBus",
    "EventTooLarge",
    "InvalidTopic",
    "Relay",
    "Subscription",
    "SubscriptionLagged",
    "check_topic",
    "decode_event",
    "decode_message",
    "encode_message",
    "topic",
]
