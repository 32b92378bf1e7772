"""Chat: conversations (direct and group), members, messages with per-conversation sequence
numbers, idempotent sends, edits and tombstones, delivered and read receipts, and the events
they publish. The WebSocket edge (veza/transport/ws/) and the REST routes
(veza/transport/api/conversations.py) call the `Chat` service."""

from veza.chat.events import (
    INLINE_MESSAGE_BYTES,
    MemberAdded,
    MemberRemoved,
    MessageChanged,
    MessageEvent,
    MessagePosted,
    ReceiptMoved,
    conversation_topic,
    user_topic,
)
from veza.chat.rules import BODY_MAX_CHARS, HISTORY_MAX_LIMIT, check_body
from veza.chat.service import Chat, ChatBounds, Opened, Posted, Receipt
from veza.store.chat import (
    ADMIN,
    DELIVERED,
    DIRECT,
    GROUP,
    MEMBER,
    READ,
    ConversationRow,
    ConversationView,
    MemberRow,
    MessageRow,
)

__all__ = [
    "ADMIN",
    "BODY_MAX_CHARS",
    "DELIVERED",
    "DIRECT",
    "GROUP",
    "HISTORY_MAX_LIMIT",
    "INLINE_MESSAGE_BYTES",
    "MEMBER",
    "READ",
    "Chat",
    "ChatBounds",
    "ConversationRow",
    "ConversationView",
    "MemberAdded",
    "MemberRemoved",
    "MemberRow",
    "MessageChanged",
    "MessageEvent",
    "MessagePosted",
    "MessageRow",
    "Opened",
    "Posted",
    "Receipt",
    "ReceiptMoved",
    "check_body",
    "conversation_topic",
    "user_topic",
]
