"""What happens in conversations, as events on `conversation:{id}` and `user:{id}` (veza/events).

Stored things travel as ids and are read from the store by whoever needs them, so an event fits
a PostgreSQL NOTIFY (8,000 bytes) whatever the message: `message.posted` and `message.changed`
name the message (`conversation_id`, `seq`, `message_id`) and carry the message itself only
when its JSON is at most `INLINE_MESSAGE_BYTES`; otherwise `message` is None and a receiver
reads it with `Chat.message(conversation_id, seq)` (`Chat.resolve(event)` does either).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from veza.events import Event, topic
from veza.store.chat import MessageRow

# A 4,000-character body is up to 24 KB once JSON-escaped (`\uXXXX`, 12 bytes for a character
# outside the BMP); NOTIFY takes at most 8,000 bytes, and the envelope (topic, type, process
# tag) needs some of them.
INLINE_MESSAGE_BYTES = 4000


def conversation_topic(conversation_id: str) -> str:
    return topic("conversation", conversation_id)


def user_topic(user_id: str) -> str:
    return topic("user", user_id)


def inline(message: MessageRow) -> dict[str, Any] | None:
    """The message as an event carries it: itself when small, None when receivers must read it."""
    data = message.to_dict()
    size = len(json.dumps(data, separators=(",", ":")))  # ASCII: characters are bytes
    return data if size <= INLINE_MESSAGE_BYTES else None


@dataclass(frozen=True)
class MessagePosted(Event):
    """A message was committed with sequence number `seq` (on `conversation:{id}`)."""

    type: ClassVar[str] = "message.posted"
    conversation_id: str
    seq: int
    message_id: str
    message: dict[str, Any] | None  # MessageRow.to_dict(), or None: read it from the store


@dataclass(frozen=True)
class MessageChanged(Event):
    """A message was edited (`edited_at`) or deleted (a tombstone: `deleted_at`, empty body)."""

    type: ClassVar[str] = "message.changed"
    conversation_id: str
    seq: int
    message_id: str
    message: dict[str, Any] | None


@dataclass(frozen=True)
class ReceiptMoved(Event):
    """A member's delivered or read mark moved forward to `seq` (on `conversation:{id}`)."""

    type: ClassVar[str] = "receipt.moved"
    conversation_id: str
    user_id: str
    kind: str  # "delivered" or "read"
    seq: int


@dataclass(frozen=True)
class MemberAdded(Event):
    """`user_id` joined the conversation (on `conversation:{id}` and on `user:{user_id}`, so
    the new member's own sockets learn of it)."""

    type: ClassVar[str] = "member.added"
    conversation_id: str
    user_id: str
    role: str  # "admin" or "member"


@dataclass(frozen=True)
class MemberRemoved(Event):
    """`user_id` left or was removed (on `conversation:{id}` and on `user:{user_id}`): from now
    on the store refuses them, and sockets stop relaying the conversation to them."""

    type: ClassVar[str] = "member.removed"
    conversation_id: str
    user_id: str


MessageEvent = MessagePosted | MessageChanged
