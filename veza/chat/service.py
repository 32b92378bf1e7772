"""The chat service: conversations and their members, messages with gap-free sequence numbers,
idempotent sends, edits and tombstones, receipts. Knows nothing of HTTP or WebSockets; every
conversation id a client names is checked against the store, and every change is published on
the event bus once it is committed."""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio

from veza.accounts import Permission, Principal, policy
from veza.chat.events import (
    RECEIPTS_PER_EVENT,
    MemberAdded,
    MemberRemoved,
    MessageChanged,
    MessageEvent,
    MessagePosted,
    ReceiptMoved,
    ReceiptsMoved,
    conversation_topic,
    inline,
    user_topic,
)
from veza.chat.rules import HISTORY_MAX_LIMIT, check_body, check_client_id, check_title
from veza.errors import (
    Conflict,
    Forbidden,
    IntegrityError,
    NotAMember,
    NotFound,
    ResyncRequired,
    ValidationFailed,
)
from veza.events import Event, EventBus
from veza.store import Repositories, Store, Transaction
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
    direct_key,
)

KINDS = (DIRECT, GROUP)
ROLES = (ADMIN, MEMBER)
RECEIPT_KINDS = (DELIVERED, READ)


@dataclass(frozen=True)
class Posted:
    """The outcome of a send: the message, and whether this call created it (False: a retry
    with a `client_id` already used, answered with the original)."""

    message: MessageRow
    created: bool


@dataclass(frozen=True)
class Receipt:
    """A member's mark after a receipt: `seq` is where it stands now; `moved` says whether this
    receipt moved it (an older or equal one does not)."""

    conversation_id: str
    user_id: str
    kind: str
    seq: int
    moved: bool


@dataclass(frozen=True)
class Opened:
    """The outcome of creating a conversation: `created` is False for a direct conversation
    that already existed."""

    view: ConversationView
    created: bool


@dataclass(frozen=True)
class ChatBounds:
    """The bounds of the chat, from settings."""

    edit_window_s: float = 900.0
    resume_max: int = 500
    group_max_members: int = 1000


class _Turns:
    """One turn at a time per conversation in this process, from a send's transaction to its
    publish: the database orders the commits (the counter row's lock), but on PostgreSQL the
    task that committed seq n may reach its publish after the one that committed n + 1 (the
    connection's release sits in between). Holding the turn until the publish keeps
    `message.posted` in seq order for every subscriber of this process. A turn's lock lives
    while someone holds or waits for it, so the map stays as small as the traffic."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[trio.Lock, int]] = {}

    @asynccontextmanager
    async def of(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (trio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class Chat:
    def __init__(
        self,
        store: Store,
        events: EventBus,
        bounds: ChatBounds = ChatBounds(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._events = events
        self._limits = bounds
        self._clock = clock
        self._turns = _Turns()

    @property
    def edit_window_s(self) -> float:
        """How long after sending a sender may edit a message (clients show Edit that long)."""
        return self._limits.edit_window_s

    # Conversations

    async def create(
        self,
        principal: Principal,
        kind: str,
        member_ids: Iterable[str],
        title: str | None = None,
    ) -> Opened:
        """A direct conversation with the one other user named (the existing one, if any), or
        a group of the caller (its admin) and the users named."""
        _check_can_chat(principal)
        me = principal.user.id
        others = sorted({_user_id("member_ids", u) for u in member_ids} - {me})
        if kind == DIRECT:
            if len(others) != 1:
                raise ValidationFailed(
                    "member_ids: a direct conversation names exactly one other user"
                )
            if title is not None:
                raise ValidationFailed("title: only a group has a title")
            return await self._open_direct(me, others[0])
        if kind != GROUP:
            raise ValidationFailed("kind: direct or group")
        if len(others) + 1 > self._limits.group_max_members:
            raise ValidationFailed(
                f"member_ids: a group has at most {self._limits.group_max_members} members"
            )
        title = check_title(title)
        conversation_id = secrets.token_hex(16)
        now = self._clock()
        async with self._store.transaction() as tx:
            await _check_users(tx, others, "member_ids")
            await tx.chat.create_conversation(
                id=conversation_id, kind=GROUP, title=title, direct_key=None, creator_id=me, now=now
            )
            await tx.chat.add_member(conversation_id, me, ADMIN, now)
            for other in others:
                await tx.chat.add_member(conversation_id, other, MEMBER, now)
            roles = [(me, ADMIN)] + [(other, MEMBER) for other in others]
            self._announce(tx, *_joined(conversation_id, roles))
            view = await tx.chat.view(conversation_id, me)
        assert view is not None
        return Opened(view, created=True)

    async def _open_direct(self, me: str, other: str) -> Opened:
        key = direct_key(me, other)
        existing = await self._store.chat.direct_conversation_id(key)
        if existing is None:
            conversation_id = secrets.token_hex(16)
            now = self._clock()
            try:
                async with self._store.transaction() as tx:
                    await _check_users(tx, [other], "member_ids")
                    await tx.chat.create_conversation(
                        id=conversation_id,
                        kind=DIRECT,
                        title=None,
                        direct_key=key,
                        creator_id=me,
                        now=now,
                    )
                    await tx.chat.add_member(conversation_id, me, MEMBER, now)
                    await tx.chat.add_member(conversation_id, other, MEMBER, now)
                    self._announce(tx, *_joined(conversation_id, [(me, MEMBER), (other, MEMBER)]))
                    view = await tx.chat.view(conversation_id, me)
                assert view is not None
                return Opened(view, created=True)
            except IntegrityError:
                # Created meanwhile by the other member (or another process): that one it is.
                existing = await self._store.chat.direct_conversation_id(key)
                if existing is None:
                    raise
        view = await self._store.chat.view(existing, me)
        if view is None:  # a direct conversation's members never change
            raise NotFound("no such conversation")
        return Opened(view, created=False)

    async def conversations(
        self, principal: Principal, after: tuple[float, str] | None, limit: int
    ) -> list[ConversationView]:
        """The caller's conversations, most recently active first, after the
        (last_activity_at, id) key of the previous page."""
        return await self._store.chat.views_of(principal.user.id, after, limit)

    async def conversation(self, principal: Principal, conversation_id: str) -> ConversationView:
        """One conversation as the caller sees it (404 unknown, 403 not a member)."""
        view = None
        if policy.looks_like_id(conversation_id):
            view = await self._store.chat.view(conversation_id, principal.user.id)
        if view is None:
            await _member(self._store, conversation_id, principal.user.id)  # raises the reason
            raise NotFound("no such conversation")  # removed in between
        return view

    async def members(self, principal: Principal, conversation_id: str) -> list[MemberRow]:
        """Every member with their role and receipts, oldest first (members only)."""
        await _member(self._store, conversation_id, principal.user.id)
        return await self._store.chat.members(conversation_id)

    async def add_member(
        self, principal: Principal, conversation_id: str, user_id: str, role: str = MEMBER
    ) -> tuple[MemberRow, bool]:
        """A group admin adds a user (True), or sets the role of a member (False)."""
        _check_can_chat(principal)
        user_id = _user_id("user_id", user_id)
        if role not in ROLES:
            raise ValidationFailed("role: admin or member")
        async with self._store.transaction() as tx:
            conversation, me = await _member(tx, conversation_id, principal.user.id)
            _check_admin_of_group(conversation, me, "add members")
            await _check_users(tx, [user_id], "user_id")
            added = await tx.chat.add_member(conversation_id, user_id, role, self._clock())
            changed = added
            if added:
                if await tx.chat.member_count(conversation_id) > self._limits.group_max_members:
                    raise Conflict(f"the group is full ({self._limits.group_max_members} members)")
            else:
                if role == MEMBER:
                    await _keep_an_admin(tx, conversation_id, user_id)
                changed = await tx.chat.set_role(conversation_id, user_id, role)
            if changed:
                self._announce(tx, *_joined(conversation_id, [(user_id, role)]))
            member = await tx.chat.member(conversation_id, user_id)
        assert member is not None
        return member, added

    async def remove_member(self, principal: Principal, conversation_id: str, user_id: str) -> None:
        """A group admin removes a member; removing oneself is leaving."""
        if user_id == principal.user.id:
            await self.leave(principal, conversation_id)
            return
        async with self._store.transaction() as tx:
            conversation, me = await _member(tx, conversation_id, principal.user.id)
            _check_admin_of_group(conversation, me, "remove members")
            if not policy.looks_like_id(user_id) or not await tx.chat.remove_member(
                conversation_id, user_id
            ):
                raise NotFound("no such member")
            self._announce(tx, *_left(conversation_id, user_id))

    async def leave(self, principal: Principal, conversation_id: str) -> None:
        """Leave a group; its oldest member becomes admin if the last admin left."""
        me = principal.user.id
        async with self._store.transaction() as tx:
            conversation, _ = await _member(tx, conversation_id, me)
            if conversation.kind == DIRECT:
                raise Conflict("a direct conversation cannot be left")
            await tx.chat.remove_member(conversation_id, me)
            self._announce(tx, *_left(conversation_id, me))
            remaining = await tx.chat.members(conversation_id)
            if remaining and all(m.role != ADMIN for m in remaining):
                heir = remaining[0].user_id
                await tx.chat.set_role(conversation_id, heir, ADMIN)
                self._announce(tx, *_joined(conversation_id, [(heir, ADMIN)]))

    # Messages

    async def post(
        self, principal: Principal, conversation_id: str, body: str, client_id: str | None = None
    ) -> Posted:
        """Commit a message with the conversation's next sequence number, then publish it.
        Idempotent on (sender, client_id): a retry gets the original message and
        `created=False` (a client_id used in another conversation is a conflict)."""
        _check_can_chat(principal)
        body = check_body(body)
        client_id = secrets.token_hex(16) if client_id is None else check_client_id(client_id)
        sender = principal.user.id
        try:
            async with self._turns.of(conversation_id), self._store.transaction() as tx:
                # The membership alone (a member row means the conversation exists); the
                # conversation is read only to tell NotFound from NotAMember. A retried
                # client_id is not looked up first: the insert's unique index refuses it and
                # the transaction rolls back (below). Each statement is a trip to the
                # database's thread or server: two fewer per message.
                if await tx.chat.member(conversation_id, sender) is None:
                    await _member(tx, conversation_id, sender)
                now = self._clock()
                seq = await tx.chat.next_seq(conversation_id, now)
                assert seq is not None  # the membership check found the conversation
                message = MessageRow(
                    id=secrets.token_hex(16),
                    conversation_id=conversation_id,
                    seq=seq,
                    sender_id=sender,
                    client_id=client_id,
                    body=body,
                    created_at=now,
                )
                await tx.chat.insert_message(message)
                self._announce(
                    tx,
                    (
                        conversation_topic(conversation_id),
                        MessagePosted(conversation_id, seq, message.id, inline(message)),
                    ),
                )
        except IntegrityError:
            # The same (sender, client_id) committed meanwhile by a concurrent retry (another
            # socket, another process); this transaction, and the seq it took, rolled back.
            original = await self._store.chat.message_by_client_id(sender, client_id)
            if original is None:
                raise
            return _retried(original, conversation_id)
        return Posted(message, created=True)

    async def history(
        self, principal: Principal, conversation_id: str, before: int | None, limit: int
    ) -> list[MessageRow]:
        """Newest first, those before seq `before` (the newest when None); at most 100."""
        await _member(self._store, conversation_id, principal.user.id)
        limit = max(1, min(limit, HISTORY_MAX_LIMIT))
        return await self._store.chat.history(conversation_id, before, limit)

    async def after(
        self, principal: Principal, conversation_id: str, after_seq: int
    ) -> list[MessageRow]:
        """What a client that saw up to `after_seq` missed, oldest first (a resume).
        ResyncRequired when that is more than `resume_max` messages: refetch the history."""
        if after_seq < 0:
            raise ValidationFailed("after_seq: a sequence number, 0 or more")
        conversation, _ = await _member(self._store, conversation_id, principal.user.id)
        if conversation.last_seq - after_seq > self._limits.resume_max:
            raise ResyncRequired()
        return await self._store.chat.after(conversation_id, after_seq, self._limits.resume_max)

    async def edit(
        self, principal: Principal, conversation_id: str, seq: int, body: str
    ) -> MessageRow:
        """The sender replaces the body within the edit window; `edited_at` records when."""
        _check_can_chat(principal)
        body = check_body(body)
        me = principal.user.id
        async with self._store.transaction() as tx:
            await _member(tx, conversation_id, me)
            message = await _message(tx, conversation_id, seq)
            if message.sender_id != me:
                raise Forbidden("only its sender may edit a message")
            if message.deleted:
                raise Conflict("a deleted message cannot be edited")
            now = self._clock()
            if now - message.created_at > self._limits.edit_window_s:
                raise Conflict(
                    f"a message can be edited for {self._limits.edit_window_s:g} seconds only"
                )
            await tx.chat.edit_message(conversation_id, seq, body, now)
            edited = await _message(tx, conversation_id, seq)
            self._announce(tx, _changed(edited))
        return edited

    async def delete(self, principal: Principal, conversation_id: str, seq: int) -> MessageRow:
        """Its sender (a member) or a moderator leaves a tombstone: the body is emptied,
        `deleted_at` set; the seq stays taken. Deleting a tombstone changes nothing."""
        me = principal.user.id
        moderator = principal.can(Permission.MODERATE)
        async with self._store.transaction() as tx:
            if moderator:
                await _conversation(tx, conversation_id)
            else:
                await _member(tx, conversation_id, me)
            message = await _message(tx, conversation_id, seq)
            if message.sender_id != me and not moderator:
                raise Forbidden("only its sender or a moderator may delete a message")
            if message.deleted:
                return message
            await tx.chat.delete_message(conversation_id, seq, me, self._clock())
            tombstone = await _message(tx, conversation_id, seq)
            self._announce(tx, _changed(tombstone))
        return tombstone

    # Receipts

    async def mark_read(self, principal: Principal, conversation_id: str, seq: int) -> Receipt:
        """The caller has read up to `seq` (which also marks it delivered)."""
        return await self._receipt(principal.user.id, conversation_id, READ, seq)

    async def mark_delivered(self, principal: Principal, conversation_id: str, seq: int) -> Receipt:
        """A socket of the caller received messages up to `seq`."""
        return await self._receipt(principal.user.id, conversation_id, DELIVERED, seq)

    async def mark_delivered_many(
        self, conversation_id: str, marks: Mapping[str, int], tell: Iterable[str]
    ) -> dict[str, int]:
        """Delivered marks of several members of one conversation (the hub's coalesced
        receipts: user id -> seq), in one transaction and one statement per distinct seq; the
        marks that moved. Non-members' marks move nowhere (the write names member rows). The
        moves are told to the users in `tell` only, the senders whose messages they cover (the
        ticks on their own messages): telling every member would cost N² frames per interval
        in a busy group. One move is a `receipt.moved`, several are `receipts.moved` events."""
        conversation = await _conversation(self._store, conversation_id)
        by_seq: dict[int, list[str]] = {}
        for user_id, seq in marks.items():
            if 0 <= seq <= conversation.last_seq:
                by_seq.setdefault(seq, []).append(user_id)
        moved: dict[str, int] = {}
        async with self._store.transaction() as tx:
            # Highest first: a member noted twice keeps the higher mark (the lower one's write
            # then finds it beyond and moves nothing).
            for seq in sorted(by_seq, reverse=True):
                for user_id in await tx.chat.move_delivered(conversation_id, seq, by_seq[seq]):
                    moved.setdefault(user_id, seq)
            topics = [user_topic(u) for u in sorted(set(tell))]
            if len(moved) == 1:
                ((user_id, seq),) = moved.items()
                one = ReceiptMoved(conversation_id, user_id, DELIVERED, seq)
                self._announce(tx, *((t, one) for t in topics))
            elif moved:
                pairs = [[u, s] for u, s in moved.items()]
                for start in range(0, len(pairs), RECEIPTS_PER_EVENT):
                    event = ReceiptsMoved(
                        conversation_id, DELIVERED, pairs[start : start + RECEIPTS_PER_EVENT]
                    )
                    self._announce(tx, *((t, event) for t in topics))
        return moved

    async def _receipt(self, user_id: str, conversation_id: str, kind: str, seq: int) -> Receipt:
        if seq < 0:
            raise ValidationFailed("seq: a sequence number, 0 or more")
        conversation, member = await _member(self._store, conversation_id, user_id)
        if seq > conversation.last_seq:
            raise ValidationFailed("seq: beyond the conversation's last message")
        moved = await self._store.chat.move_receipt(conversation_id, user_id, kind, seq)
        if moved:  # committed: the statement ran on its own
            self._events.publish(
                conversation_topic(conversation_id),
                ReceiptMoved(conversation_id, user_id, kind, seq),
            )
            return Receipt(conversation_id, user_id, kind, seq, moved=True)
        now = await self._store.chat.member(conversation_id, user_id)
        current = member if now is None else now
        mark = current.read_seq if kind == READ else current.delivered_seq
        return Receipt(conversation_id, user_id, kind, mark, moved=False)

    # For the socket (veza/transport/ws/): the store's answers, without a caller's rights.

    async def require_member(self, user_id: str, conversation_id: str) -> ConversationRow:
        """The conversation, if `user_id` is a member: NotFound or NotAMember otherwise."""
        conversation, _ = await _member(self._store, conversation_id, user_id)
        return conversation

    async def is_member(self, user_id: str, conversation_id: str) -> bool:
        if not policy.looks_like_id(conversation_id):
            return False
        return await self._store.chat.member(conversation_id, user_id) is not None

    async def member_ids(self, conversation_id: str) -> list[str]:
        return await self._store.chat.member_ids(conversation_id)

    async def conversation_ids_of(self, user_id: str) -> list[str]:
        return await self._store.chat.conversation_ids_of(user_id)

    async def peer_ids_of(self, user_id: str, limit: int) -> list[str]:
        """Who shares a conversation with the user, each once (at most `limit`, by id)."""
        return await self._store.chat.peer_ids_of(user_id, limit)

    async def message(self, conversation_id: str, seq: int) -> MessageRow:
        """A message as stored now (NotFound if there is none)."""
        return await _message(self._store, conversation_id, seq)

    async def resolve(self, event: MessageEvent) -> MessageRow:
        """The message an event is about: from the event when it carries it, else the store."""
        message = self.carried(event)
        if message is not None:
            return message
        return await self.message(event.conversation_id, event.seq)

    @staticmethod
    def carried(event: MessageEvent) -> MessageRow | None:
        """The message an event carries, without waiting; None when it must be read."""
        return None if event.message is None else MessageRow.from_dict(event.message)

    def _announce(self, tx: Transaction, *events: tuple[str, Event]) -> None:
        for topic, event in events:
            tx.on_commit(functools.partial(self._events.publish, topic, event))


def _check_can_chat(principal: Principal) -> None:
    if not principal.can(Permission.CHAT):
        raise Forbidden(f"the {principal.role.value} role lacks the chat permission")


def _user_id(field: str, user_id: str) -> str:
    if not policy.looks_like_id(user_id):
        raise ValidationFailed(f"{field}: a user id is 32 hexadecimal digits")
    return user_id


async def _check_users(tx: Repositories, user_ids: Iterable[str], field: str) -> None:
    for user_id in user_ids:
        user = await tx.accounts.user(user_id)
        if user is None or user.disabled:
            raise ValidationFailed(f"{field}: no user {user_id}")


async def _conversation(repositories: Repositories, conversation_id: str) -> ConversationRow:
    conversation = None
    if policy.looks_like_id(conversation_id):
        conversation = await repositories.chat.conversation(conversation_id)
    if conversation is None:
        raise NotFound("no such conversation")
    return conversation


async def _member(
    repositories: Repositories, conversation_id: str, user_id: str
) -> tuple[ConversationRow, MemberRow]:
    """The conversation and the user's membership: NotFound for an id that names no
    conversation, NotAMember when the user is not in it."""
    conversation = await _conversation(repositories, conversation_id)
    member = await repositories.chat.member(conversation_id, user_id)
    if member is None:
        raise NotAMember()
    return conversation, member


async def _message(repositories: Repositories, conversation_id: str, seq: int) -> MessageRow:
    message = None
    if 0 < seq < 2**63:
        message = await repositories.chat.message(conversation_id, seq)
    if message is None:
        raise NotFound("no such message")
    return message


def _check_admin_of_group(conversation: ConversationRow, me: MemberRow, what: str) -> None:
    if conversation.kind == DIRECT:
        raise Conflict("a direct conversation has exactly its two members")
    if me.role != ADMIN:
        raise Forbidden(f"only a group admin may {what}")


async def _keep_an_admin(tx: Transaction, conversation_id: str, user_id: str) -> None:
    """Refuse to demote the group's last admin."""
    admins = [m.user_id for m in await tx.chat.members(conversation_id) if m.role == ADMIN]
    if admins == [user_id]:
        raise Conflict("a group keeps at least one admin: promote another member first")


def _retried(original: MessageRow, conversation_id: str) -> Posted:
    if original.conversation_id != conversation_id:
        raise Conflict("client_id: already used for a message in another conversation")
    return Posted(original, created=False)


def _changed(message: MessageRow) -> tuple[str, Event]:
    return (
        conversation_topic(message.conversation_id),
        MessageChanged(message.conversation_id, message.seq, message.id, inline(message)),
    )


def _joined(conversation_id: str, roles: Iterable[tuple[str, str]]) -> list[tuple[str, Event]]:
    announced: list[tuple[str, Event]] = []
    for user_id, role in roles:
        event = MemberAdded(conversation_id, user_id, role)
        announced += [(conversation_topic(conversation_id), event), (user_topic(user_id), event)]
    return announced


def _left(conversation_id: str, user_id: str) -> list[tuple[str, Event]]:
    event = MemberRemoved(conversation_id, user_id)
    return [(conversation_topic(conversation_id), event), (user_topic(user_id), event)]
