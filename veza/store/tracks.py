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

    async def mark_processing(self, track_id: str) -> None:
        await self._db.execute(
            "UPDATE tracks SET status = ?, error = NULL, updated_at = ? WHERE id = ?",
            (PROCESSING, time.time(), track_id),
        )

    async def mark_ready(self, track_id: str, measured: Measurements) -> None:
        await self._db.execute(
            """UPDATE tracks SET status = ?, error = NULL, duration_s = ?, loudness_lufs = ?,
                   true_peak_dbtp = ?, gain_db = ?, renditions = ?, updated_at = ?
               WHERE id = ?""",
            (
                READY,
                measured.duration_s,
                measured.loudness_lufs,
                measured.true_peak_dbtp,
                measured.gain_db,
                json.dumps(measured.renditions),
                time.time(),
                track_id,
            ),
        )

    async def mark_failed(self, track_id: str, reason: str) -> None:
        await self._db.execute(
            "UPDATE tracks SET status = ?, error = ?, updated_at = ? WHERE id = ?",
            (FAILED, reason, time.time(), track_id),
        )

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
