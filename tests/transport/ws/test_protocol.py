"""The frame vocabulary, tested directly: what parses, what is refused and how it is named,
and how server frames are encoded."""

from __future__ import annotations

import json

import pytest

from veza.transport.ws import protocol
from veza.transport.ws.protocol import FrameError, parse_client_frame


def test_every_client_type_parses() -> None:
    frames = [
        {"type": "auth", "token": "t"},
        {"type": "send", "conversation_id": "c", "body": "hi", "client_id": "k"},
        {"type": "typing", "conversation_id": "c", "active": False},
        {"type": "read", "conversation_id": "c", "seq": 0},
        {"type": "resume", "conversation_id": "c", "after_seq": 3},
        {"type": "edit", "conversation_id": "c", "seq": 1, "body": "b"},
        {"type": "delete", "conversation_id": "c", "seq": 1},
        {"type": "subscribe", "topic": "track:abc"},
        {"type": "unsubscribe", "topic": "track:abc"},
        {"type": "presence", "status": "away"},
        {"type": "pong"},
        {"type": "ping"},
    ]
    parsed = [parse_client_frame(json.dumps(f)) for f in frames]
    assert [p.type for p in parsed] == [f["type"] for f in frames]
    assert {p.type for p in parsed} == protocol.CLIENT_TYPES


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "malformed_json"),
        ("null", "malformed_json"),
        ('"send"', "malformed_json"),
        ("{", "malformed_json"),
        ('{"type": 3}', "unknown_type"),
        ('{"type": "message"}', "unknown_type"),  # a server type, not a client one
        ('{"type": "read", "conversation_id": "c", "seq": -1}', "invalid_frame"),
        ('{"type": "read", "conversation_id": "c", "seq": true}', "invalid_frame"),
        ('{"type": "read", "conversation_id": "c", "seq": 1.5}', "invalid_frame"),
        ('{"type": "read", "conversation_id": "", "seq": 1}', "invalid_frame"),
        ('{"type": "send", "conversation_id": "c", "body": "b", "client_id": ""}', "invalid_frame"),
        ('{"type": "auth"}', "invalid_frame"),
    ],
)
def test_refusals_are_named(text: str, code: str) -> None:
    with pytest.raises(FrameError) as refused:
        parse_client_frame(text)
    assert refused.value.code == code
    assert refused.value.message


def test_a_long_unknown_type_is_not_echoed() -> None:
    with pytest.raises(FrameError) as refused:
        parse_client_frame(json.dumps({"type": "x" * 1000}))
    assert "xxxx" not in refused.value.message


def test_binary_frames_are_refused() -> None:
    with pytest.raises(FrameError) as refused:
        parse_client_frame(b'{"type": "ping"}')
    assert refused.value.code == "malformed_json"


def test_server_frames_encode_with_their_type_and_without_empty_optionals() -> None:
    error = protocol.ErrorFrame(code="rate_limited", message="slow down", retry_after=2)
    assert json.loads(error.encode()) == {
        "type": "error",
        "code": "rate_limited",
        "message": "slow down",
        "retry_after": 2,
    }
    assert json.loads(protocol.PING) == {"type": "ping"}
    typing = protocol.TypingFrame(conversation_id="c", user_id="u", active=True, typing=["u"])
    assert json.loads(typing.encode())["typing"] == ["u"]
