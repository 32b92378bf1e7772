"""Chat events cross processes: each encodes within a PostgreSQL NOTIFY payload (8,000 bytes)
whatever the message, and decodes back equal; the message rides along only when small."""

from __future__ import annotations

import pytest

from veza.chat import (
    INLINE_MESSAGE_BYTES,
    MemberAdded,
    MemberRemoved,
    MessageChanged,
    MessagePosted,
    MessageRow,
    ReceiptMoved,
    conversation_topic,
    user_topic,
)
from veza.chat.events import inline
from veza.events import decode_message, encode_message

NOTIFY_MAX_BYTES = 8000
CID, UID = "a" * 32, "b" * 32


def message(body: str) -> MessageRow:
    return MessageRow(
        id="c" * 32,
        conversation_id=CID,
        seq=2**62,
        sender_id=UID,
        client_id="~" * 64,
        body=body,
        created_at=1_800_000_000.123456,
        edited_at=1_800_000_060.654321,
        deleted_at=None,
        deleted_by=None,
    )


@pytest.mark.parametrize(
    "body",
    [
        "x",
        "x" * 4000,
        '"\\' * 2000,  # every character escaped
        "é" * 4000,  # \u00e9: six bytes each
        "\U0001f3b6" * 4000,  # a surrogate pair: twelve bytes each
        "\n" * 3999 + "x",
        "a" * (INLINE_MESSAGE_BYTES - 300),  # about the limit
    ],
    ids=["one", "ascii", "escaped", "latin", "astral", "newlines", "near-limit"],
)
def test_message_events_fit_a_notify_and_decode_equal(body: str) -> None:
    row = message(body)
    carried = inline(row)
    for event in (
        MessagePosted(CID, row.seq, row.id, carried),
        MessageChanged(CID, row.seq, row.id, carried),
    ):
        encoded = encode_message(conversation_topic(CID), event)
        assert len(encoded.encode()) <= NOTIFY_MAX_BYTES - 500  # room for the relay's envelope
        topic, decoded = decode_message(encoded)
        assert (topic, decoded) == (conversation_topic(CID), event)
    if carried is not None:
        assert MessageRow.from_dict(carried) == row


def test_small_messages_ride_along_and_large_ones_travel_as_ids() -> None:
    assert inline(message("hello")) == message("hello").to_dict()
    assert inline(message("x" * 4000)) is None
    assert inline(message("é" * 100)) is not None
    assert inline(message("é" * 1000)) is None


def test_receipt_and_membership_events_round_trip() -> None:
    for topic, event in (
        (conversation_topic(CID), ReceiptMoved(CID, UID, "read", 2**62)),
        (conversation_topic(CID), MemberAdded(CID, UID, "admin")),
        (user_topic(UID), MemberRemoved(CID, UID)),
    ):
        assert decode_message(encode_message(topic, event)) == (topic, event)
