"""Track rows: metadata, processing state and what the transcode measured."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from veza.store.database import Executor, Row

SCHEMA = (
    """CREATE TABLE tracks (
        id TEXT PRIMARY KEY,
        owner_id TEXT,
        title TEXT NOT NULL,
        artist TEXT NOT NULL DEFAULT '',
        album TEXT NOT NULL DEFAULT '',
        original_name TEXT NOT NULL,
        original_ext TEXT NOT NULL,
        original_bytes BIGINT NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        duration_s DOUBLE PRECISION,
        loudness_lufs DOUBLE PRECISION,
        true_peak_dbtp DOUBLE PRECISION,
        gain_db DOUBLE PRECISION,
        renditions TEXT NOT NULL DEFAULT '[]',
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX tracks_owner ON tracks (owner_id, created_at)",
)

# A track's HLS output comes in generations: `generation` is the one that plays (0: files of
# before generations, or none yet), made with `ladder`; `building_generation` is the one a
# transcode is writing, with `building_ladder`. URLs name the generation, so a re-transcode
# never changes the bytes behind a URL already served.
GENERATIONS = (
    "ALTER TABLE tracks ADD COLUMN generation INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE tracks ADD COLUMN ladder TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE tracks ADD COLUMN building_generation INTEGER",
    "ALTER TABLE tracks ADD COLUMN building_ladder TEXT",
)

PROCESSING, READY, FAILED = "processing", "ready", "failed"
_SEARCHED = ("title", "artist", "album")


@dataclass(frozen=True)
class NewTrack:
    id: str
    owner_id: str | None
    title: str
    artist: str
    album: str
    original_name: str
    original_ext: str
    original_bytes: int


@dataclass(frozen=True)
class Track(NewTrack):
    status: str
    error: str | None
    duration_s: float | None
    loudness_lufs: float | None
    true_peak_dbtp: float | None
    gain_db: float | None
    renditions: list[dict[str, Any]]
    created_at: float
    generation: int
    ladder: str
    building_generation: int | None
    building_ladder: str | None

    @classmethod
    def from_row(cls, row: Row) -> Track:
        fields = {k: row[k] for k in cls.__dataclass_fields__ if k != "renditions"}
        return cls(**fields, renditions=json.loads(row["renditions"]))


@dataclass(frozen=True)
class Measurements:
    duration_s: float
    loudness_lufs: float | None
    true_peak_dbtp: float | None
    gain_db: float
    renditions: list[dict[str, Any]]


def _contains(text: str) -> str:
    """A LIKE pattern (with ESCAPE '\\') matching `text` anywhere, its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class TrackRepository:
    """Queries over one executor: the database itself, or a transaction (see Store)."""

    def __init__(self, executor: Executor) -> None:
        self._db = executor

    async def create(self, track: NewTrack) -> None:
        now = time.time()
        await self._db.execute(
            """INSERT INTO tracks (id, owner_id, title, artist, album, original_name,
                   original_ext, original_bytes, status, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                track.id,
                track.owner_id,
                track.title,
                track.artist,
                track.album,
                track.original_name,
                track.original_ext,
                track.original_bytes,
                PROCESSING,
                now,
                now,
            ),
        )

    async def get(self, track_id: str) -> Track | None:
        row = await self._db.fetch_one("SELECT * FROM tracks WHERE id = ?", (track_id,))
        return None if row is None else Track.from_row(row)

    async def get_many(self, track_ids: list[str]) -> list[Track]:
        """The tracks of those ids that exist, in no particular order."""
        unique = sorted(set(track_ids))
        if not unique:
            return []
        marks = ", ".join("?" for _ in unique)
        rows = await self._db.fetch_all(f"SELECT * FROM tracks WHERE id IN ({marks})", unique)
        return [Track.from_row(row) for row in rows]

    async def start_generation(self, track_id: str, generation: int, ladder: str) -> None:
        """A transcode starts writing `generation`; a track with nothing to play yet shows as
        processing, one that plays keeps playing its current generation."""
        await self._db.execute(
            """UPDATE tracks SET building_generation = ?, building_ladder = ?, error = NULL,
                   status = CASE WHEN status = ? THEN status ELSE ? END, updated_at = ?
               WHERE id = ?""",
            (generation, ladder, READY, PROCESSING, time.time(), track_id),
        )

    async def mark_ready(
        self, track_id: str, generation: int, ladder: str, measured: Measurements
    ) -> None:
        """`generation` plays from now on."""
        await self._db.execute(
            """UPDATE tracks SET status = ?, error = NULL, duration_s = ?, loudness_lufs = ?,
                   true_peak_dbtp = ?, gain_db = ?, renditions = ?, generation = ?, ladder = ?,
                   building_generation = NULL, building_ladder = NULL, updated_at = ?
               WHERE id = ?""",
            (
                READY,
                measured.duration_s,
                measured.loudness_lufs,
                measured.true_peak_dbtp,
                measured.gain_db,
                json.dumps(measured.renditions),
                generation,
                ladder,
                time.time(),
                track_id,
            ),
        )

    async def mark_failed(self, track_id: str, reason: str) -> None:
        """The transcode failed for good: a track with nothing to play fails with `reason`; one
        that plays keeps its generation (and says why the new one failed)."""
        await self._db.execute(
            """UPDATE tracks SET error = ?, building_generation = NULL, building_ladder = NULL,
                   status = CASE WHEN status = ? THEN status ELSE ? END, updated_at = ?
               WHERE id = ?""",
            (reason, READY, FAILED, time.time(), track_id),
        )

    async def made_with_another_ladder(self, ladder: str, job_kind: str) -> list[str]:
        """Tracks that play a generation made with another ladder and have no transcode
        queued or running: those to re-transcode after the ladder changed."""
        rows = await self._db.fetch_all(
            """SELECT id FROM tracks WHERE status = ? AND ladder <> ? AND id NOT IN (
                   SELECT subject_id FROM jobs WHERE kind = ? AND status IN ('queued', 'running'))
               ORDER BY created_at""",
            (READY, ladder, job_kind),
        )
        return [row["id"] for row in rows]

    async def delete(self, track_id: str) -> None:
        await self._db.execute("DELETE FROM tracks WHERE id = ?", (track_id,))

    async def ids(self) -> set[str]:
        return {row["id"] for row in await self._db.fetch_all("SELECT id FROM tracks")}

    async def list(
        self, query: str | None, after: tuple[float, str] | None, limit: int
    ) -> list[Track]:
        """Newest first, optionally only those whose title, artist or album contains `query`
        (case-insensitive), starting after the (created_at, id) key; at most `limit`."""
        conditions: list[str] = []
        params: list[object] = []
        if query:
            pattern = _contains(query.lower())
            conditions.append(
                "(" + " OR ".join(f"LOWER({c}) LIKE ? ESCAPE '\\'" for c in _SEARCHED) + ")"
            )
            params += [pattern] * len(_SEARCHED)
        if after is not None:
            conditions.append("(created_at < ? OR (created_at = ? AND id < ?))")
            params += [after[0], after[0], after[1]]
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = await self._db.fetch_all(
            f"SELECT * FROM tracks {where} ORDER BY created_at DESC, id DESC LIMIT ?",
            (*params, limit),
        )
        return [Track.from_row(row) for row in rows]
