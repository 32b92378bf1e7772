"""Music folders: the tracks found in them (their source files) and the last scan's summary."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from veza.store.database import Executor

# A scan is a job of kind "scan"; at most one is queued or running at a time, whichever
# process asked for it (a partial unique index, the same on SQLite and PostgreSQL).
SCHEMA = (
    "CREATE UNIQUE INDEX jobs_one_scan ON jobs (kind) "
    "WHERE kind = 'scan' AND status IN ('queued', 'running')",
)

_LAST_SCAN = "scan.last"


@dataclass(frozen=True)
class Source:
    """A track's file in a music folder, as the last scan saw it."""

    track_id: str
    path: str
    size: int
    mtime: float
    content_hash: str | None


class FolderRepository:
    """Queries over one executor: the database itself, or a transaction (see Store)."""

    def __init__(self, executor: Executor) -> None:
        self._db = executor

    async def sources(self) -> list[Source]:
        rows = await self._db.fetch_all(
            """SELECT id, source_path, source_size, source_mtime, content_hash FROM tracks
               WHERE source_path IS NOT NULL ORDER BY source_path"""
        )
        return [
            Source(
                row["id"],
                row["source_path"],
                int(row["source_size"]),
                float(row["source_mtime"]),
                row["content_hash"],
            )
            for row in rows
        ]

    async def set_source(
        self, track_id: str, path: str, size: int, mtime: float, content_hash: str | None
    ) -> None:
        """Record (or update) where a track's file is and how it looked."""
        await self._db.execute(
            """UPDATE tracks SET source_path = ?, source_size = ?, source_mtime = ?,
                   content_hash = ?, original_bytes = ? WHERE id = ?""",
            (path, size, mtime, content_hash, size, track_id),
        )

    async def last_scan(self) -> dict[str, Any] | None:
        row = await self._db.fetch_one("SELECT value FROM meta WHERE key = ?", (_LAST_SCAN,))
        return None if row is None else dict(json.loads(row["value"]))

    async def record_scan(self, summary: dict[str, Any]) -> None:
        await self._db.execute(
            """INSERT INTO meta (key, value) VALUES (?, ?)
               ON CONFLICT (key) DO UPDATE SET value = excluded.value""",
            (_LAST_SCAN, json.dumps(summary)),
        )
