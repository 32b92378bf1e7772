"""Listening stats: listens (one row per listen a client reports) and likes."""

from __future__ import annotations

from dataclasses import dataclass

from veza.store.database import Executor

SCHEMA = (
    # A listen is keyed by its listener and the id the client picked at playback start, so
    # reports under one id, however many arrive at once, make one row: counting is an upsert.
    """CREATE TABLE listens (
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        listen_id TEXT NOT NULL,
        track_id TEXT NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
        seconds DOUBLE PRECISION NOT NULL,
        counted INTEGER NOT NULL DEFAULT 0,
        started_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (user_id, listen_id)
    )""",
    "CREATE INDEX listens_track ON listens (track_id, started_at)",
    "CREATE INDEX listens_user ON listens (user_id, started_at)",
    "CREATE INDEX listens_started ON listens (started_at)",
    """CREATE TABLE likes (
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        track_id TEXT NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
        created_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (user_id, track_id)
    )""",
    "CREATE INDEX likes_track ON likes (track_id)",
)


@dataclass(frozen=True)
class Listen:
    track_id: str
    seconds: float
    counted: bool


@dataclass(frozen=True)
class TrackCounts:
    plays: int
    listeners: int
    likes: int


@dataclass(frozen=True)
class Ranked:
    """One entry of a top list: a track id, an artist, or an album (`name` its title)."""

    key: str
    name: str
    plays: int
    seconds: float


class StatsRepository:
    """Queries over one executor: the database itself, or a transaction (see Store)."""

    def __init__(self, executor: Executor) -> None:
        self._db = executor

    async def report(
        self,
        user_id: str,
        listen_id: str,
        track_id: str,
        seconds: float,
        counts: bool,
        now: float,
    ) -> Listen | None:
        """Record progress of a listen in one atomic statement: the listen keeps the furthest
        point reported and, once a report reached the play threshold, counts as a play for
        good. None when the listen id is already the caller's listen of another track.
        Call it in a transaction (the row it returns comes from the writer)."""
        row = await self._db.fetch_one(
            """INSERT INTO listens
                   (user_id, listen_id, track_id, seconds, counted, started_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (user_id, listen_id) DO UPDATE SET
                   seconds = CASE WHEN excluded.seconds > listens.seconds
                       THEN excluded.seconds ELSE listens.seconds END,
                   counted = CASE WHEN excluded.counted = 1 THEN 1 ELSE listens.counted END,
                   updated_at = excluded.updated_at
               WHERE listens.track_id = excluded.track_id
               RETURNING track_id, seconds, counted""",
            (user_id, listen_id, track_id, seconds, 1 if counts else 0, now, now),
        )
        if row is None:
            return None
        return Listen(row["track_id"], float(row["seconds"]), bool(row["counted"]))

    async def like(self, user_id: str, track_id: str, now: float) -> None:
        await self._db.execute(
            """INSERT INTO likes (user_id, track_id, created_at) VALUES (?, ?, ?)
               ON CONFLICT (user_id, track_id) DO NOTHING""",
            (user_id, track_id, now),
        )

    async def unlike(self, user_id: str, track_id: str) -> None:
        await self._db.execute(
            "DELETE FROM likes WHERE user_id = ? AND track_id = ?", (user_id, track_id)
        )

    async def likes(self, user_id: str, track_id: str) -> bool:
        row = await self._db.fetch_one(
            "SELECT 1 AS yes FROM likes WHERE user_id = ? AND track_id = ?", (user_id, track_id)
        )
        return row is not None

    async def track_counts(self, track_id: str) -> TrackCounts:
        plays = await self._db.fetch_one(
            """SELECT COUNT(*) AS plays, COUNT(DISTINCT user_id) AS listeners
               FROM listens WHERE track_id = ? AND counted = 1""",
            (track_id,),
        )
        likes = await self._db.fetch_one(
            "SELECT COUNT(*) AS likes FROM likes WHERE track_id = ?", (track_id,)
        )
        assert plays is not None and likes is not None
        return TrackCounts(int(plays["plays"]), int(plays["listeners"]), int(likes["likes"]))

    async def listening(self, user_id: str, since: float) -> tuple[float, int]:
        """Seconds listened and plays counted since `since`."""
        row = await self._db.fetch_one(
            """SELECT COALESCE(SUM(seconds), 0) AS seconds, COALESCE(SUM(counted), 0) AS plays
               FROM listens WHERE user_id = ? AND started_at >= ?""",
            (user_id, since),
        )
        assert row is not None
        return float(row["seconds"]), int(row["plays"])

    async def top_tracks(self, user_id: str | None, since: float, limit: int) -> list[Ranked]:
        """Tracks by plays since `since` (one user's, or everyone's), most played first."""
        mine = "AND l.user_id = ?" if user_id is not None else ""
        rows = await self._db.fetch_all(
            f"""SELECT l.track_id AS key, t.title AS name, SUM(l.counted) AS plays,
                       SUM(l.seconds) AS seconds
                FROM listens l JOIN tracks t ON t.id = l.track_id
                WHERE l.started_at >= ? {mine}
                GROUP BY l.track_id, t.title HAVING SUM(l.counted) > 0
                ORDER BY plays DESC, seconds DESC, l.track_id LIMIT ?""",
            (since, *([user_id] if user_id is not None else []), limit),
        )
        return [_ranked(row) for row in rows]

    async def top_artists(self, user_id: str, since: float, limit: int) -> list[Ranked]:
        rows = await self._db.fetch_all(
            """SELECT t.artist AS key, t.artist AS name, SUM(l.counted) AS plays,
                      SUM(l.seconds) AS seconds
               FROM listens l JOIN tracks t ON t.id = l.track_id
               WHERE l.user_id = ? AND l.started_at >= ? AND t.artist <> ''
               GROUP BY t.artist HAVING SUM(l.counted) > 0
               ORDER BY plays DESC, seconds DESC, t.artist LIMIT ?""",
            (user_id, since, limit),
        )
        return [_ranked(row) for row in rows]

    async def top_albums(self, user_id: str, since: float, limit: int) -> list[Ranked]:
        """Albums as the artist and the album title of their tracks."""
        rows = await self._db.fetch_all(
            """SELECT t.artist AS key, t.album AS name, SUM(l.counted) AS plays,
                      SUM(l.seconds) AS seconds
               FROM listens l JOIN tracks t ON t.id = l.track_id
               WHERE l.user_id = ? AND l.started_at >= ? AND t.album <> ''
               GROUP BY t.artist, t.album HAVING SUM(l.counted) > 0
               ORDER BY plays DESC, seconds DESC, t.artist, t.album LIMIT ?""",
            (user_id, since, limit),
        )
        return [_ranked(row) for row in rows]


def _ranked(row: dict[str, object]) -> Ranked:
    return Ranked(
        str(row["key"]),
        str(row["name"]),
        int(row["plays"]),  # type: ignore[call-overload]
        float(row["seconds"]),  # type: ignore[arg-type]
    )
