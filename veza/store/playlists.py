"""Playlist rows: playlists, their ordered entries, their collaborators, and play queues.

Entry order: `position` is a sort key, unique per playlist (an index enforces it), kept dense
by the edits but not relied on to be (a deleted track's entries leave gaps): what a client
sees as an entry's position is its index in that order. Shifting keys uses a two-step
negation so the unique index holds after every row, on both backends (neither defers it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from veza.store.database import Executor, Row
from veza.store.tracks import Track

SCHEMA = (
    """CREATE TABLE playlists (
        id TEXT PRIMARY KEY,
        owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        visibility TEXT NOT NULL,
        version INTEGER NOT NULL DEFAULT 1,
        cover TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX playlists_owner ON playlists (owner_id, created_at)",
    "CREATE INDEX playlists_visibility ON playlists (visibility, created_at)",
    """CREATE TABLE playlist_entries (
        id TEXT PRIMARY KEY,
        playlist_id TEXT NOT NULL REFERENCES playlists (id) ON DELETE CASCADE,
        track_id TEXT NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        added_by TEXT,
        added_at DOUBLE PRECISION NOT NULL
    )""",
    "CREATE UNIQUE INDEX playlist_entries_order ON playlist_entries (playlist_id, position)",
    "CREATE INDEX playlist_entries_track ON playlist_entries (track_id)",
    """CREATE TABLE playlist_collaborators (
        playlist_id TEXT NOT NULL REFERENCES playlists (id) ON DELETE CASCADE,
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        added_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (playlist_id, user_id)
    )""",
    "CREATE INDEX playlist_collaborators_user ON playlist_collaborators (user_id)",
    """CREATE TABLE play_queues (
        user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        track_ids TEXT NOT NULL,
        current_index INTEGER NOT NULL,
        position_s DOUBLE PRECISION NOT NULL,
        changed_by TEXT NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    )""",
)

_PLAYLIST_COLUMNS = "p.id, p.owner_id, p.name, p.description, p.visibility, p.version, " + (
    "p.cover, p.created_at, p.updated_at"
)
# Count and total duration of a playlist, as subqueries over `p`.
_STATS = """(SELECT COUNT(*) FROM playlist_entries e WHERE e.playlist_id = p.id) AS track_count,
    (SELECT COALESCE(SUM(t.duration_s), 0) FROM playlist_entries e
        JOIN tracks t ON t.id = e.track_id WHERE e.playlist_id = p.id) AS duration_s"""


@dataclass(frozen=True)
class PlaylistRow:
    id: str
    owner_id: str
    name: str
    description: str
    visibility: str
    version: int
    cover: str | None  # the uploaded cover's content hash; None: made from its tracks'
    created_at: float
    updated_at: float

    @classmethod
    def from_row(cls, row: Row) -> PlaylistRow:
        return cls(
            id=row["id"],
            owner_id=row["owner_id"],
            name=row["name"],
            description=row["description"],
            visibility=row["visibility"],
            version=int(row["version"]),
            cover=row["cover"],
            created_at=float(row["created_at"]),
            updated_at=float(row["updated_at"]),
        )


@dataclass(frozen=True)
class PlaylistStats:
    """A playlist with its size, and the role in it of the account that asked (None: none)."""

    playlist: PlaylistRow
    track_count: int
    duration_s: float
    role: str | None

    @classmethod
    def from_row(cls, row: Row) -> PlaylistStats:
        return cls(
            PlaylistRow.from_row(row),
            int(row["track_count"]),
            float(row["duration_s"] or 0.0),
            row.get("role"),
        )


@dataclass(frozen=True)
class EntryRow:
    id: str
    playlist_id: str
    track_id: str
    position: int  # the sort key, not the index
    added_by: str | None
    added_at: float

    @classmethod
    def from_row(cls, row: Row) -> EntryRow:
        return cls(
            id=row["id"],
            playlist_id=row["playlist_id"],
            track_id=row["track_id"],
            position=int(row["position"]),
            added_by=row["added_by"],
            added_at=float(row["added_at"]),
        )


@dataclass(frozen=True)
class CollaboratorRow:
    user_id: str
    username: str
    role: str
    added_at: float


@dataclass(frozen=True)
class TrackRemoval:
    """A deleted track's entries left this playlist, now at `version`."""

    playlist_id: str
    version: int
    member_ids: list[str]  # its owner and collaborators
    entry_ids: list[str]


@dataclass(frozen=True)
class QueueRow:
    track_ids: list[str]
    current_index: int
    position_s: float
    changed_by: str
    updated_at: float


def _contains(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class PlaylistRepository:
    """Queries over one executor: the database itself, or a transaction (see Store)."""

    def __init__(self, executor: Executor, dialect: str) -> None:
        self._db = executor
        self._dialect = dialect

    # Playlists

    async def create(self, playlist: PlaylistRow) -> None:
        await self._db.execute(
            """INSERT INTO playlists (id, owner_id, name, description, visibility, version,
                   created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                playlist.id,
                playlist.owner_id,
                playlist.name,
                playlist.description,
                playlist.visibility,
                playlist.version,
                playlist.created_at,
                playlist.updated_at,
            ),
        )

    async def get(self, playlist_id: str) -> PlaylistRow | None:
        row = await self._db.fetch_one(
            f"SELECT {_PLAYLIST_COLUMNS} FROM playlists p WHERE p.id = ?", (playlist_id,)
        )
        return None if row is None else PlaylistRow.from_row(row)

    async def lock(self, playlist_id: str) -> PlaylistRow | None:
        """The playlist, locked until the transaction ends: edits of one playlist take turns.
        PostgreSQL locks the row; SQLite has one writer, whose transaction already holds the
        database (BEGIN IMMEDIATE)."""
        lock = " FOR UPDATE" if self._dialect == "postgresql" else ""
        row = await self._db.fetch_one(
            f"SELECT {_PLAYLIST_COLUMNS} FROM playlists p WHERE p.id = ?{lock}", (playlist_id,)
        )
        return None if row is None else PlaylistRow.from_row(row)

    async def stats(self, playlist_id: str, viewer_id: str) -> PlaylistStats | None:
        row = await self._db.fetch_one(
            f"""SELECT {_PLAYLIST_COLUMNS}, {_STATS},
                   (SELECT c.role FROM playlist_collaborators c
                       WHERE c.playlist_id = p.id AND c.user_id = ?) AS role
               FROM playlists p WHERE p.id = ?""",
            (viewer_id, playlist_id),
        )
        return None if row is None else PlaylistStats.from_row(row)

    async def bump(self, playlist_id: str, now: float) -> int:
        """The next version of the playlist; call it once in each edit's transaction."""
        await self._db.execute(
            "UPDATE playlists SET version = version + 1, updated_at = ? WHERE id = ?",
            (now, playlist_id),
        )
        row = await self._db.fetch_one("SELECT version FROM playlists WHERE id = ?", (playlist_id,))
        assert row is not None
        return int(row["version"])

    async def update_details(
        self, playlist_id: str, name: str, description: str, visibility: str
    ) -> None:
        await self._db.execute(
            "UPDATE playlists SET name = ?, description = ?, visibility = ? WHERE id = ?",
            (name, description, visibility, playlist_id),
        )

    async def set_cover(self, playlist_id: str, cover: str | None) -> None:
        await self._db.execute("UPDATE playlists SET cover = ? WHERE id = ?", (cover, playlist_id))

    async def set_owner(self, playlist_id: str, user_id: str) -> None:
        await self._db.execute(
            "UPDATE playlists SET owner_id = ? WHERE id = ?", (user_id, playlist_id)
        )

    async def delete(self, playlist_id: str) -> None:
        await self._db.execute("DELETE FROM playlists WHERE id = ?", (playlist_id,))

    async def visible_to(
        self,
        user_id: str,
        scope: str,
        query: str | None,
        after: tuple[float, str] | None,
        limit: int,
    ) -> list[PlaylistStats]:
        """Newest first: the user's own (`mine`), those shared with the user (`shared`), public
        ones (`public`), or all three (`all`); optionally only names containing `query`."""
        shared = """EXISTS (SELECT 1 FROM playlist_collaborators c
            WHERE c.playlist_id = p.id AND c.user_id = ?)"""
        scopes: dict[str, tuple[str, list[object]]] = {
            "mine": ("p.owner_id = ?", [user_id]),
            "shared": (shared, [user_id]),
            "public": ("p.visibility = 'public'", []),
            "all": (f"(p.owner_id = ? OR p.visibility = 'public' OR {shared})", [user_id, user_id]),
        }
        condition, params = scopes[scope]
        conditions, values = [condition], [user_id, *params]
        if query:
            conditions.append("LOWER(p.name) LIKE ? ESCAPE '\\'")
            values.append(_contains(query.lower()))
        if after is not None:
            conditions.append("(p.created_at < ? OR (p.created_at = ? AND p.id < ?))")
            values += [after[0], after[0], after[1]]
        rows = await self._db.fetch_all(
            f"""SELECT {_PLAYLIST_COLUMNS}, {_STATS},
                   (SELECT c.role FROM playlist_collaborators c
                       WHERE c.playlist_id = p.id AND c.user_id = ?) AS role
               FROM playlists p WHERE {" AND ".join(conditions)}
               ORDER BY p.created_at DESC, p.id DESC LIMIT ?""",
            (*values, limit),
        )
        return [PlaylistStats.from_row(row) for row in rows]

    # Entries

    async def entries(self, playlist_id: str) -> list[EntryRow]:
        rows = await self._db.fetch_all(
            "SELECT * FROM playlist_entries WHERE playlist_id = ? ORDER BY position",
            (playlist_id,),
        )
        return [EntryRow.from_row(row) for row in rows]

    async def tracks_in(self, playlist_id: str) -> list[Track]:
        """Every track that has an entry in the playlist, once each."""
        rows = await self._db.fetch_all(
            """SELECT * FROM tracks WHERE id IN (
                   SELECT track_id FROM playlist_entries WHERE playlist_id = ?)""",
            (playlist_id,),
        )
        return [Track.from_row(row) for row in rows]

    async def first_tracks(self, playlist_ids: list[str], count: int) -> list[tuple[str, Track]]:
        """(playlist id, track) of the first `count` entries of each playlist, in order."""
        if not playlist_ids:
            return []
        marks = ", ".join("?" for _ in playlist_ids)
        rows = await self._db.fetch_all(
            f"""SELECT f.playlist_id AS entry_playlist_id, t.* FROM (
                    SELECT e.playlist_id, e.track_id, e.position, ROW_NUMBER() OVER (
                        PARTITION BY e.playlist_id ORDER BY e.position) AS n
                    FROM playlist_entries e WHERE e.playlist_id IN ({marks})) f
                JOIN tracks t ON t.id = f.track_id
                WHERE f.n <= ? ORDER BY f.playlist_id, f.position""",
            (*playlist_ids, count),
        )
        return [(row["entry_playlist_id"], Track.from_row(row)) for row in rows]

    async def entry(self, playlist_id: str, entry_id: str) -> EntryRow | None:
        row = await self._db.fetch_one(
            "SELECT * FROM playlist_entries WHERE playlist_id = ? AND id = ?",
            (playlist_id, entry_id),
        )
        return None if row is None else EntryRow.from_row(row)

    async def count_entries(self, playlist_id: str) -> int:
        row = await self._db.fetch_one(
            "SELECT COUNT(*) AS n FROM playlist_entries WHERE playlist_id = ?", (playlist_id,)
        )
        return 0 if row is None else int(row["n"])

    async def key_at(self, playlist_id: str, index: int) -> int | None:
        """The sort key of the entry at `index` (0-based), None past the end."""
        row = await self._db.fetch_one(
            """SELECT position FROM playlist_entries WHERE playlist_id = ?
               ORDER BY position LIMIT 1 OFFSET ?""",
            (playlist_id, index),
        )
        return None if row is None else int(row["position"])

    async def end_key(self, playlist_id: str) -> int:
        """The sort key after the last entry's."""
        row = await self._db.fetch_one(
            "SELECT MAX(position) AS last FROM playlist_entries WHERE playlist_id = ?",
            (playlist_id,),
        )
        last = None if row is None else row["last"]
        return 0 if last is None else int(last) + 1

    async def shift(self, playlist_id: str, low: int, high: int | None, delta: int) -> None:
        """Add `delta` to the keys from `low` to `high` (None: to the end). Two steps through
        negative keys (-(key + delta) - 2, never -1, which `park` uses), so no row ever
        collides with another on the unique index while the statement runs."""
        bound = "" if high is None else " AND position <= ?"
        limits = [low] if high is None else [low, high]
        await self._db.execute(
            f"""UPDATE playlist_entries SET position = -(position + ?) - 2
                WHERE playlist_id = ? AND position >= ?{bound}""",
            (delta, playlist_id, *limits),
        )
        await self._db.execute(
            """UPDATE playlist_entries SET position = -position - 2
               WHERE playlist_id = ? AND position <= -2""",
            (playlist_id,),
        )

    async def insert_entry(self, entry: EntryRow) -> None:
        await self._db.execute(
            """INSERT INTO playlist_entries (id, playlist_id, track_id, position, added_by,
                   added_at) VALUES (?, ?, ?, ?, ?, ?)""",
            (
                entry.id,
                entry.playlist_id,
                entry.track_id,
                entry.position,
                entry.added_by,
                entry.added_at,
            ),
        )

    async def set_key(self, entry_id: str, key: int) -> None:
        """Give an entry another sort key (-1 parks it out of the way during a move)."""
        await self._db.execute(
            "UPDATE playlist_entries SET position = ? WHERE id = ?", (key, entry_id)
        )

    async def delete_entry(self, entry_id: str) -> None:
        await self._db.execute("DELETE FROM playlist_entries WHERE id = ?", (entry_id,))

    async def remove_track(self, track_id: str, now: float) -> list[TrackRemoval]:
        """Take a track out of every playlist (it is being deleted), each playlist locked and
        moved to its next version, in id order (so two such deletions lock alike)."""
        rows = await self._db.fetch_all(
            "SELECT playlist_id, id FROM playlist_entries WHERE track_id = ?", (track_id,)
        )
        entries: dict[str, list[str]] = {}
        for row in rows:
            entries.setdefault(row["playlist_id"], []).append(row["id"])
        removals = []
        for playlist_id in sorted(entries):
            playlist = await self.lock(playlist_id)
            assert playlist is not None
            version = await self.bump(playlist_id, now)
            members = [
                playlist.owner_id,
                *(c.user_id for c in await self.collaborators(playlist_id)),
            ]
            removals.append(
                TrackRemoval(playlist_id, version, members, sorted(entries[playlist_id]))
            )
        await self._db.execute("DELETE FROM playlist_entries WHERE track_id = ?", (track_id,))
        return removals

    # Collaborators

    async def collaborators(self, playlist_id: str) -> list[CollaboratorRow]:
        rows = await self._db.fetch_all(
            """SELECT c.user_id, u.username, c.role, c.added_at FROM playlist_collaborators c
               JOIN users u ON u.id = c.user_id WHERE c.playlist_id = ?
               ORDER BY c.added_at, c.user_id""",
            (playlist_id,),
        )
        return [
            CollaboratorRow(r["user_id"], r["username"], r["role"], float(r["added_at"]))
            for r in rows
        ]

    async def role_of(self, playlist_id: str, user_id: str) -> str | None:
        row = await self._db.fetch_one(
            "SELECT role FROM playlist_collaborators WHERE playlist_id = ? AND user_id = ?",
            (playlist_id, user_id),
        )
        return None if row is None else str(row["role"])

    async def set_collaborator(self, playlist_id: str, user_id: str, role: str, now: float) -> None:
        await self._db.execute(
            """INSERT INTO playlist_collaborators (playlist_id, user_id, role, added_at)
               VALUES (?, ?, ?, ?)
               ON CONFLICT (playlist_id, user_id) DO UPDATE SET role = excluded.role""",
            (playlist_id, user_id, role, now),
        )

    async def remove_collaborator(self, playlist_id: str, user_id: str) -> int:
        return await self._db.execute(
            "DELETE FROM playlist_collaborators WHERE playlist_id = ? AND user_id = ?",
            (playlist_id, user_id),
        )

    # Matching imported entries

    async def ready_tracks_page(self, after: tuple[float, str] | None, limit: int) -> list[Track]:
        """Up to `limit` ready tracks after `after` (created_at, id), oldest first: the library an
        import is matched against, read a page at a time so its size never sits in memory."""
        if after is None:
            rows = await self._db.fetch_all(
                "SELECT * FROM tracks WHERE status = 'ready' ORDER BY created_at, id LIMIT ?",
                (limit,),
            )
        else:
            rows = await self._db.fetch_all(
                """SELECT * FROM tracks WHERE status = 'ready'
                     AND (created_at > ? OR (created_at = ? AND id > ?))
                   ORDER BY created_at, id LIMIT ?""",
                (after[0], after[0], after[1], limit),
            )
        return [Track.from_row(row) for row in rows]


class QueueRepository:
    """Each account's play queue: one row, replaced whole."""

    def __init__(self, executor: Executor) -> None:
        self._db = executor

    async def get(self, user_id: str) -> QueueRow | None:
        row = await self._db.fetch_one("SELECT * FROM play_queues WHERE user_id = ?", (user_id,))
        if row is None:
            return None
        ids: Any = json.loads(row["track_ids"])
        return QueueRow(
            track_ids=[str(i) for i in ids],
            current_index=int(row["current_index"]),
            position_s=float(row["position_s"]),
            changed_by=row["changed_by"],
            updated_at=float(row["updated_at"]),
        )

    async def save(self, user_id: str, queue: QueueRow) -> None:
        await self._db.execute(
            """INSERT INTO play_queues (user_id, track_ids, current_index, position_s,
                   changed_by, updated_at) VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (user_id) DO UPDATE SET track_ids = excluded.track_ids,
                   current_index = excluded.current_index, position_s = excluded.position_s,
                   changed_by = excluded.changed_by, updated_at = excluded.updated_at""",
            (
                user_id,
                json.dumps(queue.track_ids),
                queue.current_index,
                queue.position_s,
                queue.changed_by,
                queue.updated_at,
            ),
        )
