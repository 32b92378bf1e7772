"""The WebSocket vocabulary: every frame a client may send and every frame the server sends,
as validated classes, and the one function that turns client text into a frame.

Pure: no I/O, no Trio, no services. Every frame is one JSON object with a `type`; client frames
are strict (no coercion: `"1"` is not a seq, `1` is not a bool) and carry no unknown field, so
a client's mistake is caught here and answered with an `error` frame naming it. docs/websocket.md
documents each type and field.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

# Ids as the services hand them out (hex) fit easily; a client cannot make us carry more.
Id = Annotated[str, Field(min_length=1, max_length=128)]
Seq = Annotated[int, Field(ge=0, le=2**53)]
ClientId = Annotated[str, Field(min_length=1, max_length=64)]
Topic = Annotated[str, Field(min_length=1, max_length=200)]


class Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# Client -> server


class Auth(Frame):
    """The first frame of a client that sent no Authorization header (browsers)."""

    type: Literal["auth"]
    token: Annotated[str, Field(min_length=1, max_length=4096)]


class Send(Frame):
    type: Literal["send"]
    conversation_id: Id
    body: str
    client_id: ClientId


class Typing(Frame):
    type: Literal["typing"]
    conversation_id: Id
    active: bool


class Read(Frame):
    type: Literal["read"]
    conversation_id: Id
    seq: Seq


class Resume(Frame):
    type: Literal["resume"]
    conversation_id: Id
    after_seq: Seq


class Edit(Frame):
    type: Literal["edit"]
    conversation_id: Id
    seq: Seq
    body: str


class Delete(Frame):
    type: Literal["delete"]
    conversation_id: Id
    seq: Seq


class Subscribe(Frame):
    type: Literal["subscribe"]
    topic: Topic


class Unsubscribe(Frame):
    type: Literal["unsubscribe"]
    topic: Topic


class SetPresence(Frame):
    type: Literal["presence"]
    status: Literal["online", "away"]


class Pong(Frame):
    """Answers the server's `ping`."""

    type: Literal["pong"]


class ClientPing(Frame):
    """A client asking whether the socket is alive; answered with `pong`."""

    type: Literal["ping"]


ClientFrame = Annotated[
    Auth
    | Send
    | Typing
    | Read
    | Resume
    | Edit
    | Delete
    | Subscribe
    | Unsubscribe
    | SetPresence
    | Pong
    | ClientPing,
    Field(discriminator="type"),
]
CLIENT_TYPES = frozenset(
    {
        "auth",
        "send",
        "typing",
        "read",
        "resume",
        "edit",
        "delete",
        "subscribe",
        "unsubscribe",
        "presence",
        "pong",
        "ping",
    }
)
_CLIENT = TypeAdapter[ClientFrame](ClientFrame)


class FrameError(Exception):
    """A client frame that cannot be taken: `code` for programs, the message for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_client_frame(data: str | bytes) -> ClientFrame:
    """The frame a client sent, validated; raises FrameError (malformed_json, unknown_type or
    invalid_frame) for anything else. Binary frames are refused: the protocol is JSON text."""
    if not isinstance(data, str):
        raise FrameError("malformed_json", "frames are JSON text, not binary")
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        raise FrameError("malformed_json", "the frame is not valid JSON") from None
    if not isinstance(value, dict):
        raise FrameError("malformed_json", "a frame is a JSON object with a type")
    kind = value.get("type")
    if not isinstance(kind, str) or kind not in CLIENT_TYPES:
        shown = kind if isinstance(kind, str) and kind.isprintable() and len(kind) <= 32 else None
        named = f" {shown!r}" if shown else ""
        raise FrameError("unknown_type", f"unknown frame type{named}")
    try:
        return _CLIENT.validate_python(value)
    except ValidationError as error:
        raise FrameError("invalid_frame", f"{kind}: {_summarise(error)}") from None
    except RecursionError:
        raise FrameError("invalid_frame", f"{kind}: nested too deeply") from None


def _summarise(error: ValidationError) -> str:
    parts = []
    for issue in error.errors(include_url=False, include_input=False)[:3]:
        where = ".".join(str(p) for p in issue["loc"][1:]) or "frame"
        parts.append(f"{where}: {issue['msg']}")
    return "; ".join(parts)


# Server -> client. Built once per broadcast and encoded once (`encode`): the same text goes to
# every socket it concerns.


class ServerFrame(Frame):
    type: ClassVar[str]

    def encode(self) -> str:
        fields = self.model_dump(mode="json", exclude_none=True)
        return json.dumps({"type": self.type, **fields}, separators=(",", ":"))


class Ready(ServerFrame):
    """Authenticated: the socket now carries the user's events. `present`: the people who
    share a conversation with the user and are online or away now (changes follow as
    `presence` and `presences` frames)."""

    type: ClassVar[str] = "ready"
    user_id: str
    session_id: str
    ping_interval_s: float
    idle_timeout_s: float
    present: list[Presence] = []


class Ack(ServerFrame):
    """The sender's `send` is committed: `message` is stored (a retry gets the original)."""

    type: ClassVar[str] = "ack"
    client_id: str
    message: dict[str, Any]


class MessageFrame(ServerFrame):
    """A message of a conversation the user is in: new, edited (`edited_at`) or deleted
    (`deleted: true`, body empty)."""

    type: ClassVar[str] = "message"
    message: dict[str, Any]


class TypingFrame(ServerFrame):
    type: ClassVar[str] = "typing"
    conversation_id: str
    user_id: str
    active: bool
    typing: list[str]


class Receipt(ServerFrame):
    type: ClassVar[str] = "receipt"
    conversation_id: str
    user_id: str
    kind: Literal["delivered", "read"]
    seq: int


class Mark(Frame):
    user_id: str
    seq: int


class Receipts(ServerFrame):
    """Several members' delivered marks moved at once (coalesced; sent to the senders whose
    messages they cover)."""

    type: ClassVar[str] = "receipts"
    conversation_id: str
    kind: Literal["delivered"]
    marks: list[Mark]


class Presence(ServerFrame):
    type: ClassVar[str] = "presence"
    user_id: str
    status: Literal["online", "away", "offline"]


class Presences(ServerFrame):
    """Several users' presence at once (gathered per conversation over a short interval)."""

    type: ClassVar[str] = "presences"
    users: list[Presence]


class EventFrame(ServerFrame):
    """An event of the bus the socket is subscribed to (track.progress, track.ready, ...)."""

    type: ClassVar[str] = "event"
    name: str
    data: dict[str, Any]


class Subscribed(ServerFrame):
    type: ClassVar[str] = "subscribed"
    topic: str


class Unsubscribed(ServerFrame):
    type: ClassVar[str] = "unsubscribed"
    topic: str


class ErrorFrame(ServerFrame):
    """A frame was refused; the socket stays open. `client_id` names the refused `send`."""

    type: ClassVar[str] = "error"
    code: str
    message: str
    retry_after: int | None = None
    client_id: str | None = None


class Resync(ServerFrame):
    """Too much was missed: fetch the conversation's history over REST."""

    type: ClassVar[str] = "resync"
    conversation_id: str


class Ping(ServerFrame):
    type: ClassVar[str] = "ping"


class ServerPong(ServerFrame):
    type: ClassVar[str] = "pong"


PING = Ping().encode()
PONG = ServerPong().encode()
