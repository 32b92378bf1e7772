"""The persistent job queue: jobs are claimed atomically, leased, counted and re-queued."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from veza.store.database import Database, Executor, Row

SCHEMA = (
    """CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        progress DOUBLE PRECISION NOT NULL DEFAULT 0,
        error TEXT,
        worker TEXT,
        lease_until DOUBLE PRECISION,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX jobs_status_created ON jobs (status, created_at)",
    "CREATE INDEX jobs_subject ON jobs (subject_id)",
)

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    subject_id: str
    status: str
    attempts: int
    max_attempts: int
    progress: float
    error: str | None

    @classmethod
    def from_row(cls, row: Row) -> Job:
        return cls(
            id=row["id"],
            kind=row["kind"],
            subject_id=row["subject_id"],
            status=row["status"],
            attempts=int(row["attempts"]),
            max_attempts=int(row["max_attempts"]),
            progress=float(row["progress"]),
            error=row["error"],
        )


@asynccontextmanager
async def _writer(database: Database, tx: Executor | None) -> AsyncIterator[Executor]:
    """The caller's transaction when it has one, else a transaction of our own."""
    if tx is not None:
        yield tx
        return
    async with database.transaction() as own:
        yield own


class JobQueue:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def enqueue(
        self, kind: str, subject_id: str, *, max_attempts: int = 3, tx: Executor | None = None
    ) -> Job:
        now = time.time()
        async with _writer(self.database, tx) as writer:
            row = await writer.fetch_one(
                """INSERT INTO jobs
                       (id, kind, subject_id, status, max_attempts, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *""",
                (secrets.token_hex(12), kind, subject_id, QUEUED, max_attempts, now, now),
            )
        assert row is not None
        return Job.from_row(row)

    async def claim(self, worker: str, lease_s: float) -> Job | None:
        """Take the oldest queued job for `worker`, counting the attempt, or None.

        The status re-check in the outer WHERE makes two racing claimers safe on PostgreSQL too:
        the loser's UPDATE matches nothing and it simply sees no job this round."""
        now = time.time()
        async with self.database.transaction() as tx:
            row = await tx.fetch_one(
                """UPDATE jobs SET status = ?, attempts = attempts + 1, worker = ?,
                       lease_until = ?, updated_at = ?, error = NULL
                   WHERE status = ? AND id = (
                       SELECT id FROM jobs WHERE status = ? ORDER BY created_at, id LIMIT 1)
                   RETURNING *""",
                (RUNNING, worker, now + lease_s, now, QUEUED, QUEUED),
            )
        return None if row is None else Job.from_row(row)

    async def extend_lease(self, job_id: str, worker: str, lease_s: float) -> None:
        await self.database.execute(
            "UPDATE jobs SET lease_until = ? WHERE id = ? AND worker = ? AND status = ?",
            (time.time() + lease_s, job_id, worker, RUNNING),
        )

    async def set_progress(self, job_id: str, fraction: float) -> None:
        await self.database.execute(
            "UPDATE jobs SET progress = ?, updated_at = ? WHERE id = ? AND status = ?",
            (min(max(fraction, 0.0), 1.0), time.time(), job_id, RUNNING),
        )

    async def finish(self, job_id: str, *, tx: Executor | None = None) -> None:
        await (tx or self.database).execute(
            "UPDATE jobs SET status = ?, progress = 1, lease_until = NULL, updated_at = ? "
            "WHERE id = ?",
            (DONE, time.time(), job_id),
        )

    async def fail(self, job_id: str, reason: str, *, tx: Executor | None = None) -> None:
        await (tx or self.database).execute(
            "UPDATE jobs SET status = ?, error = ?, lease_until = NULL, updated_at = ? "
            "WHERE id = ?",
            (FAILED, reason, time.time(), job_id),
        )

    async def retry_or_fail(self, job: Job, reason: str) -> bool:
        """After a failed attempt: queue it again while attempts remain. True if re-queued."""
        if job.attempts < job.max_attempts:
            await self._set_queued(job.id, reason, refund_attempt=False)
            return True
        await self.fail(job.id, reason)
        return False

    async def release(self, job_id: str) -> None:
        """Put a job interrupted by shutdown back in the queue; the attempt does not count."""
        await self._set_queued(job_id, None, refund_attempt=True)

    async def _set_queued(self, job_id: str, error: str | None, *, refund_attempt: bool) -> None:
        refund = ", attempts = attempts - 1" if refund_attempt else ""
        await self.database.execute(
            f"""UPDATE jobs SET status = ?, error = ?, worker = NULL, lease_until = NULL,
                   progress = 0, updated_at = ?{refund}
               WHERE id = ? AND status = ?""",
            (QUEUED, error, time.time(), job_id, RUNNING),
        )

    async def requeue_orphans(self, *, expired_only: bool) -> list[Job]:
        """Running jobs whose worker died (after a crash) go back to the queue, or fail when
        their attempts are spent. A crash counts as an attempt: a file that kills the process
        every time must not crash-loop it forever."""
        now = time.time()
        condition = "status = ?" + (" AND lease_until < ?" if expired_only else "")
        params: tuple[Any, ...] = (RUNNING, now) if expired_only else (RUNNING,)
        async with self.database.transaction() as tx:
            rows = await tx.fetch_all(f"SELECT * FROM jobs WHERE {condition}", params)
            orphans = [Job.from_row(row) for row in rows]
            for job in orphans:
                spent = job.attempts >= job.max_attempts
                await tx.execute(
                    """UPDATE jobs SET status = ?, error = ?, worker = NULL, lease_until = NULL,
                           progress = 0, updated_at = ? WHERE id = ?""",
                    (
                        FAILED if spent else QUEUED,
                        "interrupted too many times" if spent else "interrupted; re-queued",
                        now,
                        job.id,
                    ),
                )
        return orphans

    async def get(self, job_id: str) -> Job | None:
        row = await self.database.fetch_one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return None if row is None else Job.from_row(row)

    async def counts(self) -> dict[str, int]:
        rows = await self.database.fetch_all(
            "SELECT status, COUNT(*) AS n FROM jobs GROUP BY status"
        )
        return {row["status"]: int(row["n"]) for row in rows}
