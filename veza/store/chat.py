"""Chat rows: conversations, their members (with each member's receipts) and their messages.

Sequence numbers come from the conversation's own counter (`last_seq`), bumped with
`UPDATE ... RETURNING` inside the transaction that inserts the message: the row lock (PostgreSQL)
or the one writer (SQLite) serialises senders of one conversation, and a rolled-back insert
rolls its number back too, so numbers have no gaps, also across processes. Receipts are
"up to seq" marks that the write itself only ever moves forward.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from veza.store.database import Executor, Row

SCHEMA = (
    # direct_key: the two member ids, sorted and joined, for a direct conversation (NULL for a
    # group): one direct conversation per pair, enforced by the unique index.
    """CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        title TEXT,
        direct_key TEXT,
        creator_id TEXT REFERENCES users (id) ON DELETE SET NULL,
        last_seq BIGINT NOT NULL DEFAULT 0,
        created_at DOUBLE PRECISION NOT NULL,
        last_activity_at DOUBLE PRECISION NOT NULL
    )""",
    "CREATE UNIQUE INDEX conversations_direct_key ON conversations (direct_key)",
    """CREATE TABLE conversation_members (
        conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        delivered_seq BIGINT NOT NULL DEFAULT 0,
        read_seq BIGINT NOT NULL DEFAULT 0,
        joined_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (conversation_id, user_id)
    )""",
    # "My conversations", and the membership check of every request.
    "CREATE INDEX conversation_members_user ON conversation_members (user_id, conversation_id)",
    # The primary key serves history (newest first, before a seq), resume (after a seq) and
    # unread counts (after my read_seq); (sender_id, client_id) makes sends idempotent.
    """CREATE TABLE messages (
        conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        seq BIGINT NOT NULL,
        id TEXT NOT NULL,
        sender_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        client_id TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        edited_at DOUBLE PRECISION,
        deleted_at DOUBLE PRECISION,
        deleted_by TEXT,
        PRIMARY KEY (conversation_id, seq)
    )""",
    "CREATE UNIQUE INDEX messages_id ON messages (id)",
    "CREATE UNIQUE INDEX messages_client_id ON messages (sender_id, client_id)",
)

DIRECT, GROUP = "direct", "group"
ADMIN, MEMBER = "admin", "member"
DELIVERED, READ = "delivered", "read"
# Placeholders per statement: far below SQLite's and PostgreSQL's limits on bound values.
_MEMBERS_PER_STATEMENT = 500


@dataclass(frozen=True)
class ConversationRow:
    id: str
    kind: str
    title: str | None
    creator_id: str | None
    last_seq: int
    created_at: float
    last_activity_at: float

    @classmethod
    def from_row(cls, row: Row, prefix: str = "") -> ConversationRow:
        return cls(**{name: row[prefix + name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class MemberRow:
    conversation_id: str
    user_id: str
    role: str
    delivered_seq: int
    read_seq: int
    joined_at: float

    @classmethod
    def from_row(cls, row: Row, prefix: str = "") -> MemberRow:
        return cls(**{name: row[prefix + name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class MessageRow:
    """One message; a deleted one is a tombstone: its body is empty and `deleted_at` set."""

    id: str
    conversation_id: str
    seq: int
    sender_id: str
    client_id: str
    body: str
    created_at: float
    edited_at: float | None = None
    deleted_at: float | None = None
    deleted_by: str | None = None

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON values only: what an event carries."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MessageRow:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})

    @classmethod
    def from_row(cls, row: Row, prefix: str = "") -> MessageRow:
        return cls(**{name: row[prefix + name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class ConversationView:
    """A conversation as one member sees it: their membership (role, receipts), their unread
    count, the last message, how many members there are, and in a direct conversation the
    other member (`peer_id`)."""

    conversation: ConversationRow
    me: MemberRow
    unread: int
    member_count: int
    last_message: MessageRow | None
    peer_id: str | None = None


def direct_key(a: str, b: str) -> str:
    return ":".join(sorted((a, b)))


def _prefixed(table: str, prefix: str, fields: Any) -> str:
    return ", ".join(f"{table}.{name} AS {prefix}{name}" for name in fields)


_VIEW_COLUMNS = ", ".join(
    (
        _prefixed("c", "c_", ConversationRow.__dataclass_fields__),
        _prefixed("m", "m_", MemberRow.__dataclass_fields__),
        _prefixed("l", "l_", MessageRow.__dataclass_fields__),
    )
)
# Unread: messages of others after my read mark; tombstones are not counted (nothing to read).
_VIEW_SELECT = f"""SELECT {_VIEW_COLUMNS},
        (SELECT COUNT(*) FROM messages u WHERE u.conversation_id = c.id AND u.seq > m.read_seq
            AND u.sender_id <> m.user_id AND u.deleted_at IS NULL) AS unread,
        (SELECT COUNT(*) FROM conversation_members n WHERE n.conversation_id = c.id)
            AS member_count,
        (SELECT MIN(p.user_id) FROM conversation_members p WHERE p.conversation_id = c.id
            AND p.user_id <> m.user_id AND c.kind = 'direct') AS peer_id
    FROM conversation_members m
    JOIN conversations c ON c.id = m.conversation_id
    LEFT JOIN messages l ON l.conversation_id = c.id AND l.seq = c.last_seq"""


def _view(row: Row) -> ConversationView:
    return ConversationView(
        conversation=ConversationRow.from_row(row, "c_"),
        me=MemberRow.from_row(row, "m_"),
        unread=int(row["unread"]),
        member_count=int(row["member_count"]),
        last_message=None if row["l_id"] is None else MessageRow.from_row(row, "l_"),
        peer_id=row["peer_id"],
    )


class ChatRepository:
    """Queries over one executor: the database itself, or a transaction (see Store)."""

    def __init__(self, executor: Executor) -> None:
        self._db = executor

    # Conversations

    async def create_conversation(
        self,
        *,
        id: str,
        kind: str,
        title: str | None,
        direct_key: str | None,
        creator_id: str,
        now: float,
    ) -> None:
        await self._db.execute(
            """INSERT INTO conversations (id, kind, title, direct_key, creator_id, last_seq,
                   created_at, last_activity_at)
               VALUES (?, ?, ?, ?, ?, 0, ?, ?)""",
            (id, kind, title, direct_key, creator_id, now, now),
        )

    async def conversation(self, conversation_id: str) -> ConversationRow | None:
        row = await self._db.fetch_one(
            """SELECT id, kind, title, creator_id, last_seq, created_at, last_activity_at
               FROM conversations WHERE id = ?""",
            (conversation_id,),
        )
        return None if row is None else ConversationRow.from_row(row)

    async def direct_conversation_id(self, key: str) -> str | None:
        row = await self._db.fetch_one("SELECT id FROM conversations WHERE direct_key = ?", (key,))
        return None if row is None else str(row["id"])

    async def view(self, conversation_id: str, user_id: str) -> ConversationView | None:
        """The conversation as `user_id` sees it; None unless they are a member."""
        row = await self._db.fetch_one(
            f"{_VIEW_SELECT} WHERE m.conversation_id = ? AND m.user_id = ?",
            (conversation_id, user_id),
        )
        return None if row is None else _view(row)

    async def views_of(
        self, user_id: str, after: tuple[float, str] | None, limit: int
    ) -> list[ConversationView]:
        """The user's conversations, most recently active first, after the
        (last_activity_at, id) key; at most `limit`."""
        condition, params = "", list[object]([user_id])
        if after is not None:
            condition = " AND (c.last_activity_at < ? OR (c.last_activity_at = ? AND c.id < ?))"
            params += [after[0], after[0], after[1]]
        rows = await self._db.fetch_all(
            f"""{_VIEW_SELECT} WHERE m.user_id = ?{condition}
                ORDER BY c.last_activity_at DESC, c.id DESC LIMIT ?""",
            (*params, limit),
        )
        return [_view(row) for row in rows]

    async def next_seq(self, conversation_id: str, now: float) -> int | None:
        """Take the conversation's next sequence number (None: no such conversation). Inside a
        transaction, the number is released again if the transaction rolls back."""
        row = await self._db.fetch_one(
            """UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = ?
               WHERE id = ? RETURNING last_seq""",
            (now, conversation_id),
        )
        return None if row is None else int(row["last_seq"])

    # Members

    async def add_member(self, conversation_id: str, user_id: str, role: str, now: float) -> bool:
        """Add a member (their receipts start at the last message: what came before is not
        unread); False when they already are one."""
        changed = await self._db.execute(
            """INSERT INTO conversation_members
                   (conversation_id, user_id, role, delivered_seq, read_seq, joined_at)
               SELECT id, ?, ?, last_seq, last_seq, ? FROM conversations WHERE id = ?
               ON CONFLICT (conversation_id, user_id) DO NOTHING""",
            (user_id, role, now, conversation_id),
        )
        return changed > 0

    async def set_role(self, conversation_id: str, user_id: str, role: str) -> bool:
        changed = await self._db.execute(
            """UPDATE conversation_members SET role = ?
               WHERE conversation_id = ? AND user_id = ? AND role <> ?""",
            (role, conversation_id, user_id, role),
        )
        return changed > 0

    async def remove_member(self, conversation_id: str, user_id: str) -> bool:
        changed = await self._db.execute(
            "DELETE FROM conversation_members WHERE conversation_id = ? AND user_id = ?",
            (conversation_id, user_id),
        )
        return changed > 0

    async def member(self, conversation_id: str, user_id: str) -> MemberRow | None:
        row = await self._db.fetch_one(
            "SELECT * FROM conversation_members WHERE conversation_id = ? AND user_id = ?",
            (conversation_id, user_id),
        )
        return None if row is None else MemberRow.from_row(row)

    async def members(self, conversation_id: str) -> list[MemberRow]:
        """Oldest member first."""
        rows = await self._db.fetch_all(
            """SELECT * FROM conversation_members WHERE conversation_id = ?
               ORDER BY joined_at, user_id""",
            (conversation_id,),
        )
        return [MemberRow.from_row(row) for row in rows]

    async def member_count(self, conversation_id: str) -> int:
        row = await self._db.fetch_one(
            "SELECT COUNT(*) AS n FROM conversation_members WHERE conversation_id = ?",
            (conversation_id,),
        )
        return 0 if row is None else int(row["n"])

    async def member_ids(self, conversation_id: str) -> list[str]:
        rows = await self._db.fetch_all(
            "SELECT user_id FROM conversation_members WHERE conversation_id = ? ORDER BY user_id",
            (conversation_id,),
        )
        return [row["user_id"] for row in rows]

    async def conversation_ids_of(self, user_id: str) -> list[str]:
        rows = await self._db.fetch_all(
            """SELECT conversation_id FROM conversation_members WHERE user_id = ?
               ORDER BY conversation_id""",
            (user_id,),
        )
        return [row["conversation_id"] for row in rows]

    async def peer_ids_of(self, user_id: str, limit: int) -> list[str]:
        """The users who share at least one conversation with `user_id` (not the user), each
        once, in id order; at most `limit`. One statement, whatever the number of
        conversations: the self-join walks the user's memberships by the (user_id,
        conversation_id) index, then each conversation's members by the primary key."""
        rows = await self._db.fetch_all(
            """SELECT DISTINCT p.user_id FROM conversation_members m
               JOIN conversation_members p ON p.conversation_id = m.conversation_id
               WHERE m.user_id = ? AND p.user_id <> ?
               ORDER BY p.user_id LIMIT ?""",
            (user_id, user_id, limit),
        )
        return [row["user_id"] for row in rows]

    # Messages

    async def insert_message(self, message: MessageRow) -> None:
        await self._db.execute(
            """INSERT INTO messages (conversation_id, seq, id, sender_id, client_id, body,
                   created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            (
                message.conversation_id,
                message.seq,
                message.id,
                message.sender_id,
                message.client_id,
                message.body,
                message.created_at,
            ),
        )

    async def message(self, conversation_id: str, seq: int) -> MessageRow | None:
        row = await self._db.fetch_one(
            "SELECT * FROM messages WHERE conversation_id = ? AND seq = ?", (conversation_id, seq)
        )
        return None if row is None else MessageRow.from_row(row)

    async def message_by_client_id(self, sender_id: str, client_id: str) -> MessageRow | None:
        row = await self._db.fetch_one(
            "SELECT * FROM messages WHERE sender_id = ? AND client_id = ?", (sender_id, client_id)
        )
        return None if row is None else MessageRow.from_row(row)

    async def history(
        self, conversation_id: str, before: int | None, limit: int
    ) -> list[MessageRow]:
        """Newest first, those with a seq below `before` (all when None); at most `limit`."""
        condition, params = "", list[object]([conversation_id])
        if before is not None:
            condition = " AND seq < ?"
            params.append(before)
        rows = await self._db.fetch_all(
            f"""SELECT * FROM messages WHERE conversation_id = ?{condition}
                ORDER BY seq DESC LIMIT ?""",
            (*params, limit),
        )
        return [MessageRow.from_row(row) for row in rows]

    async def after(self, conversation_id: str, after_seq: int, limit: int) -> list[MessageRow]:
        """Oldest first, those with a seq above `after_seq`; at most `limit`."""
        rows = await self._db.fetch_all(
            """SELECT * FROM messages WHERE conversation_id = ? AND seq > ?
               ORDER BY seq LIMIT ?""",
            (conversation_id, after_seq, limit),
        )
        return [MessageRow.from_row(row) for row in rows]

    async def edit_message(self, conversation_id: str, seq: int, body: str, now: float) -> bool:
        """Replace the body of a message that is not deleted; False when it is."""
        changed = await self._db.execute(
            """UPDATE messages SET body = ?, edited_at = ?
               WHERE conversation_id = ? AND seq = ? AND deleted_at IS NULL""",
            (body, now, conversation_id, seq),
        )
        return changed > 0

    async def delete_message(self, conversation_id: str, seq: int, by: str, now: float) -> bool:
        """Leave a tombstone (body emptied); False when it already is one."""
        changed = await self._db.execute(
            """UPDATE messages SET body = '', deleted_at = ?, deleted_by = ?
               WHERE conversation_id = ? AND seq = ? AND deleted_at IS NULL""",
            (now, by, conversation_id, seq),
        )
        return changed > 0

    # Receipts

    async def move_receipt(self, conversation_id: str, user_id: str, kind: str, seq: int) -> bool:
        """Move the member's `kind` mark (delivered or read) up to `seq`; False when it already
        was there or beyond (an older receipt never overwrites a newer one: the condition is in
        the write). Reading up to a seq also means it was delivered."""
        if kind == READ:
            sql = """UPDATE conversation_members SET read_seq = ?,
                         delivered_seq = CASE WHEN delivered_seq < ? THEN ? ELSE delivered_seq END
                     WHERE conversation_id = ? AND user_id = ? AND read_seq < ?"""
            params: tuple[Any, ...] = (seq, seq, seq, conversation_id, user_id, seq)
        elif kind == DELIVERED:
            sql = """UPDATE conversation_members SET delivered_seq = ?
                     WHERE conversation_id = ? AND user_id = ? AND delivered_seq < ?"""
            params = (seq, conversation_id, user_id, seq)
        else:
            raise ValueError(f"unknown receipt kind {kind!r}")
        return await self._db.execute(sql, params) > 0

    async def move_delivered(
        self, conversation_id: str, seq: int, user_ids: list[str]
    ) -> list[str]:
        """Move the delivered marks of these members up to `seq`, a bounded number of members
        per statement; the ids whose mark moved. Inside a transaction (the statement returns
        rows). As in `move_receipt`, the condition is in the write: a newer mark stays."""
        moved: list[str] = []
        for start in range(0, len(user_ids), _MEMBERS_PER_STATEMENT):
            chunk = user_ids[start : start + _MEMBERS_PER_STATEMENT]
            rows = await self._db.fetch_all(
                f"""UPDATE conversation_members SET delivered_seq = ?
                    WHERE conversation_id = ? AND delivered_seq < ?
                      AND user_id IN ({", ".join("?" * len(chunk))})
                    RETURNING user_id""",
                (seq, conversation_id, seq, *chunk),
            )
            moved.extend(row["user_id"] for row in rows)
        return moved
