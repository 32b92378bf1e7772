"""Conversation routes: create and list conversations, their members, their messages (history,
send, edit, delete) and read receipts. The WebSocket (veza/transport/ws/) sends the same
message shape, `MessageOut`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from quart import Blueprint
from quart_schema import tag_blueprint, validate_querystring, validate_request, validate_response

from veza.accounts import Permission
from veza.chat import (
    BODY_MAX_CHARS,
    HISTORY_MAX_LIMIT,
    ConversationView,
    MemberRow,
    MessageRow,
    Receipt,
)
from veza.transport.context import edge, services
from veza.transport.guard import current_principal, require
from veza.transport.openapi import errors, responds
from veza.transport.pagination import Page, PageQuery, page_of
from veza.transport.timestamps import utc

blueprint = Blueprint("conversations", __name__)
tag_blueprint(blueprint, ["chat"])

_ID = 64  # generous bound on an id as parsed; the service checks its form
_SEQ_MAX = 2**63 - 1  # BIGINT
_MEMBERS_MAX = 100_000  # parsed at all; `chat_group_max_members` is the rule
_MEMBERSHIP = (
    "forbidden: the role lacks the chat permission; not_a_member: the caller is not a member "
    "of the conversation"
)
_UNKNOWN = "not_found: no conversation by that id"
# quart-schema 0.25 turns `<a>/x/<int:b>` into one parameter (its pattern reads from the first
# `<` to the next `:`): a route with a typed parameter spells the converter of every other one.
_MESSAGE = "/api/v1/conversations/<string:conversation_id>/messages/<int:seq>"


class MessageOut(BaseModel):
    """A message; a deleted one is a tombstone (`deleted`, empty body) that keeps its seq."""

    id: str
    conversation_id: str
    seq: int = Field(description="1, 2, 3... per conversation, without gaps")
    sender_id: str
    client_id: str = Field(description="the sender's idempotency key")
    body: str
    created_at: datetime
    edited_at: datetime | None
    deleted: bool

    @classmethod
    def of(cls, message: MessageRow) -> MessageOut:
        return cls(
            id=message.id,
            conversation_id=message.conversation_id,
            seq=message.seq,
            sender_id=message.sender_id,
            client_id=message.client_id,
            body=message.body,
            created_at=utc(message.created_at),
            edited_at=None if message.edited_at is None else utc(message.edited_at),
            deleted=message.deleted,
        )


class MemberOut(BaseModel):
    user_id: str
    role: Literal["admin", "member"]
    delivered_seq: int = Field(description="the member received messages up to this seq")
    read_seq: int = Field(description="the member read messages up to this seq")
    joined_at: datetime

    @classmethod
    def of(cls, member: MemberRow) -> MemberOut:
        return cls(
            user_id=member.user_id,
            role=member.role,  # type: ignore[arg-type]
            delivered_seq=member.delivered_seq,
            read_seq=member.read_seq,
            joined_at=utc(member.joined_at),
        )


class ConversationOut(BaseModel):
    """A conversation as the caller sees it."""

    id: str
    kind: Literal["direct", "group"]
    title: str | None
    created_at: datetime
    last_activity_at: datetime
    last_seq: int = Field(description="seq of the last message, 0 when there is none")
    last_message: MessageOut | None
    member_count: int
    peer_id: str | None = Field(description="direct: the other member; group: null")
    role: Literal["admin", "member"] = Field(description="the caller's role")
    delivered_seq: int
    read_seq: int
    unread_count: int = Field(
        description="messages of others after read_seq, deleted ones not counted"
    )

    @classmethod
    def fields_of(cls, view: ConversationView) -> dict[str, object]:
        conversation, me = view.conversation, view.me
        return {
            "id": conversation.id,
            "kind": conversation.kind,
            "title": conversation.title,
            "created_at": utc(conversation.created_at),
            "last_activity_at": utc(conversation.last_activity_at),
            "last_seq": conversation.last_seq,
            "last_message": None if view.last_message is None else MessageOut.of(view.last_message),
            "member_count": view.member_count,
            "peer_id": view.peer_id,
            "role": me.role,
            "delivered_seq": me.delivered_seq,
            "read_seq": me.read_seq,
            "unread_count": view.unread,
        }

    @classmethod
    def of(cls, view: ConversationView) -> ConversationOut:
        return cls.model_validate(cls.fields_of(view))


class ConversationDetail(ConversationOut):
    members: list[MemberOut] = Field(description="oldest first")
    edit_window_seconds: float = Field(
        description="a sender may edit a message for this long after sending it "
        "(`chat_edit_window_seconds`)"
    )

    @classmethod
    def with_members(cls, view: ConversationView, members: list[MemberRow]) -> ConversationDetail:
        return cls.model_validate(
            {
                **cls.fields_of(view),
                "members": [MemberOut.of(m) for m in members],
                "edit_window_seconds": services().chat.edit_window_s,
            }
        )


class NewConversation(BaseModel):
    kind: Literal["direct", "group"]
    member_ids: list[str] = Field(
        max_length=_MEMBERS_MAX,
        description="direct: the one other user; group: the members besides the caller",
    )
    title: str | None = Field(
        default=None, max_length=1000, description="groups only; at most 100 characters"
    )


class NewMember(BaseModel):
    user_id: str = Field(max_length=_ID)
    role: Literal["admin", "member"] = "member"


class HistoryQuery(BaseModel):
    before: int | None = Field(
        default=None, ge=1, le=_SEQ_MAX, description="only messages with a seq below this"
    )
    limit: int = Field(
        default=50, ge=1, le=_SEQ_MAX, description=f"at most {HISTORY_MAX_LIMIT} are returned"
    )


class MessagesPage(BaseModel):
    items: list[MessageOut] = Field(description="newest first")
    next_before: int | None = Field(
        description="`before` for the next (older) page; null when there is none"
    )


class NewMessage(BaseModel):
    body: str = Field(
        max_length=BODY_MAX_CHARS,
        description="not blank; no control characters but newline and tab",
    )
    client_id: str | None = Field(
        default=None,
        max_length=_ID,
        description="the sender's idempotency key (1-64 printable ASCII characters, no "
        "spaces): a retry with the same one gets the original message, 200",
    )


class MessageEdit(BaseModel):
    body: str = Field(max_length=BODY_MAX_CHARS)


class ReadMark(BaseModel):
    seq: int = Field(ge=0, le=_SEQ_MAX, description="read up to this seq (at most the last)")


class ReceiptOut(BaseModel):
    conversation_id: str
    user_id: str
    kind: Literal["delivered", "read"]
    seq: int = Field(description="where the mark stands now")
    moved: bool = Field(description="false when the mark already was there or beyond")

    @classmethod
    def of(cls, receipt: Receipt) -> ReceiptOut:
        return cls.model_validate(receipt.__dict__)


@blueprint.post("/api/v1/conversations")
@require(Permission.CHAT)
@validate_request(NewConversation)
@validate_response(ConversationDetail, 201)
@validate_response(ConversationDetail, 200)
async def create_conversation(data: NewConversation) -> tuple[ConversationDetail, int]:
    """Start a direct conversation (201; 200 with the existing one for that pair) or a group
    whose admin is the caller (201)."""
    chat = services().chat
    principal = current_principal()
    opened = await chat.create(principal, data.kind, data.member_ids, data.title)
    members = await chat.members(principal, opened.view.conversation.id)
    return ConversationDetail.with_members(opened.view, members), 201 if opened.created else 200


@blueprint.get("/api/v1/conversations")
@require(Permission.CHAT)
@validate_querystring(PageQuery)
@validate_response(Page[ConversationOut])
async def list_conversations(query_args: PageQuery) -> Page[ConversationOut]:
    """The caller's conversations, most recently active first, each with its last message and
    the caller's unread count."""
    principal = current_principal()
    items, next_cursor = await page_of(
        query_args,
        (float, str),
        lambda after, limit: services().chat.conversations(principal, after, limit),
        lambda view: (view.conversation.last_activity_at, view.conversation.id),
    )
    return Page[ConversationOut](
        items=[ConversationOut.of(view) for view in items], next_cursor=next_cursor
    )


@blueprint.get("/api/v1/conversations/<conversation_id>")
@require(Permission.CHAT)
@errors(403, 404, why={403: _MEMBERSHIP, 404: _UNKNOWN})
@validate_response(ConversationDetail)
async def get_conversation(conversation_id: str) -> ConversationDetail:
    """A conversation with its members and their receipts (members only)."""
    chat, principal = services().chat, current_principal()
    view = await chat.conversation(principal, conversation_id)
    return ConversationDetail.with_members(view, await chat.members(principal, conversation_id))


@blueprint.post("/api/v1/conversations/<conversation_id>/members")
@require(Permission.CHAT)
@errors(
    403,
    404,
    409,
    why={
        403: f"{_MEMBERSHIP}; forbidden: only a group admin may add members",
        404: _UNKNOWN,
        409: "conflict: a direct conversation's members are fixed, the group is full, or the "
        "last admin would be demoted",
    },
)
@validate_request(NewMember)
@validate_response(MemberOut, 201)
@validate_response(MemberOut, 200)
async def add_member(conversation_id: str, data: NewMember) -> tuple[MemberOut, int]:
    """A group admin adds a user (201), or sets a member's role (200)."""
    member, added = await services().chat.add_member(
        current_principal(), conversation_id, data.user_id, data.role
    )
    return MemberOut.of(member), 201 if added else 200


@blueprint.delete("/api/v1/conversations/<conversation_id>/members/<user_id>")
@require(Permission.CHAT)
@errors(
    403,
    404,
    409,
    why={
        403: f"{_MEMBERSHIP}; forbidden: only a group admin may remove others",
        404: "not_found: no such conversation, or no such member",
        409: "conflict: a direct conversation's members are fixed",
    },
)
@responds(204, "the member is removed")
async def remove_member(conversation_id: str, user_id: str) -> tuple[str, int]:
    """A group admin removes a member (removing oneself is leaving)."""
    await services().chat.remove_member(current_principal(), conversation_id, user_id)
    return "", 204


@blueprint.post("/api/v1/conversations/<conversation_id>/leave")
@require(Permission.CHAT)
@errors(
    403,
    404,
    409,
    why={
        403: _MEMBERSHIP,
        404: _UNKNOWN,
        409: "conflict: a direct conversation cannot be left",
    },
)
@responds(204, "the caller left; if they were the last admin, the oldest member is admin")
async def leave(conversation_id: str) -> tuple[str, int]:
    """Leave a group."""
    await services().chat.leave(current_principal(), conversation_id)
    return "", 204


@blueprint.get("/api/v1/conversations/<conversation_id>/messages")
@require(Permission.CHAT)
@errors(403, 404, why={403: _MEMBERSHIP, 404: _UNKNOWN})
@validate_querystring(HistoryQuery)
@validate_response(MessagesPage)
async def history(conversation_id: str, query_args: HistoryQuery) -> MessagesPage:
    """Messages newest first, those before seq `before`; at most 100 per page."""
    messages = await services().chat.history(
        current_principal(), conversation_id, query_args.before, query_args.limit
    )
    # Fewer than asked for, or down to seq 1: nothing older.
    more = messages and messages[-1].seq > 1
    return MessagesPage(
        items=[MessageOut.of(m) for m in messages],
        next_before=messages[-1].seq if more else None,
    )


@blueprint.post("/api/v1/conversations/<conversation_id>/messages")
@require(Permission.CHAT)
@errors(
    403,
    404,
    409,
    429,
    why={
        403: _MEMBERSHIP,
        404: _UNKNOWN,
        409: "conflict: the client_id was used for a message in another conversation",
        429: "rate_limited: too many messages; Retry-After says how many seconds to wait",
    },
)
@validate_request(NewMessage)
@validate_response(MessageOut, 201)
@validate_response(MessageOut, 200)
async def post_message(conversation_id: str, data: NewMessage) -> tuple[MessageOut, int]:
    """Send a message (201). Idempotent on `client_id`: a retry answers 200 with the original."""
    principal = current_principal()
    edge().chat_limits.send(principal.user.id)
    posted = await services().chat.post(principal, conversation_id, data.body, data.client_id)
    return MessageOut.of(posted.message), 201 if posted.created else 200


@blueprint.patch(_MESSAGE)
@require(Permission.CHAT)
@errors(
    403,
    404,
    409,
    429,
    why={
        403: f"{_MEMBERSHIP}; forbidden: only its sender may edit a message",
        404: "not_found: no such conversation or message",
        409: "conflict: the edit window has passed, or the message is deleted",
        429: "rate_limited: too many messages; Retry-After says how many seconds to wait",
    },
)
@validate_request(MessageEdit)
@validate_response(MessageOut)
async def edit_message(conversation_id: str, seq: int, data: MessageEdit) -> MessageOut:
    """The sender replaces a message's body within `chat_edit_window_seconds`."""
    principal = current_principal()
    edge().chat_limits.send(principal.user.id)
    return MessageOut.of(await services().chat.edit(principal, conversation_id, seq, data.body))


@blueprint.delete(_MESSAGE)
@require(Permission.CHAT)
@errors(
    403,
    404,
    why={
        403: f"{_MEMBERSHIP}; forbidden: only its sender or a moderator may delete a message",
        404: "not_found: no such conversation or message",
    },
)
@responds(204, "the message is a tombstone (deleting one again changes nothing)")
async def delete_message(conversation_id: str, seq: int) -> tuple[str, int]:
    """Its sender or a moderator deletes a message; a tombstone keeps its seq."""
    await services().chat.delete(current_principal(), conversation_id, seq)
    return "", 204


@blueprint.post("/api/v1/conversations/<conversation_id>/read")
@require(Permission.CHAT)
@errors(403, 404, why={403: _MEMBERSHIP, 404: _UNKNOWN})
@validate_request(ReadMark)
@validate_response(ReceiptOut)
async def mark_read(conversation_id: str, data: ReadMark) -> ReceiptOut:
    """The caller read up to `seq`; a mark only moves forward."""
    receipt = await services().chat.mark_read(current_principal(), conversation_id, data.seq)
    return ReceiptOut.of(receipt)
