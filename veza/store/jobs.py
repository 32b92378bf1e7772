"""The persistent job queue: jobs are claimed atomically, leased, counted and re-queued."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

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

# The job, still running, and still held by the given worker.
_OWNED = "id = ? AND status = ? AND worker = ?"


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
    worker: str | None

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
            worker=row["worker"],
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

    async def extend_lease(self, job: Job, worker: str, lease_s: float) -> bool:
        """Keep the job for `worker`; False when it is no longer the worker's to keep."""
        changed = await self.database.execute(
            f"UPDATE jobs SET lease_until = ? WHERE {_OWNED}",
            (time.time() + lease_s, job.id, RUNNING, worker),
        )
        return changed == 1

    async def set_progress(self, job: Job, worker: str, fraction: float) -> None:
        await self.database.execute(
            f"UPDATE jobs SET progress = ?, updated_at = ? WHERE {_OWNED}",
            (min(max(fraction, 0.0), 1.0), time.time(), job.id, RUNNING, worker),
        )

    # Settling: each takes the worker that owns the job and changes nothing (returns False) when
    # it does not own it any more, so a worker whose lease ran out cannot overwrite the outcome
    # of the one that took the job over.

    async def finish(self, job: Job, worker: str | None, tx: Executor) -> bool:
        changed = await tx.execute(
            f"UPDATE jobs SET status = ?, progress = 1, lease_until = NULL, updated_at = ? "
            f"WHERE {_OWNED}",
            (DONE, time.time(), job.id, RUNNING, worker),
        )
        return changed == 1

    async def fail(self, job: Job, worker: str | None, reason: str, tx: Executor) -> bool:
        changed = await tx.execute(
            f"UPDATE jobs SET status = ?, error = ?, lease_until = NULL, updated_at = ? "
            f"WHERE {_OWNED}",
            (FAILED, reason, time.time(), job.id, RUNNING, worker),
        )
        return changed == 1

    async def requeue(
        self, job: Job, worker: str | None, reason: str | None, *, refund_attempt: bool
    ) -> bool:
        """Back to the queue: after a failed attempt, after a crash, or (refunding the attempt,
        which was not the job's fault) when shutdown interrupted it."""
        refund = ", attempts = attempts - 1" if refund_attempt else ""
        changed = await self.database.execute(
            f"""UPDATE jobs SET status = ?, error = ?, worker = NULL, lease_until = NULL,
                   progress = 0, updated_at = ?{refund}
               WHERE {_OWNED}""",
            (QUEUED, reason, time.time(), job.id, RUNNING, worker),
        )
        return changed == 1

    async def orphans(self, *, expired_only: bool) -> list[Job]:
        """Running jobs whose worker is gone: all of them (one process per database), or those
        whose lease ran out (several processes sharing one)."""
        if expired_only:
            rows = await self.database.fetch_all(
                "SELECT * FROM jobs WHERE status = ? AND lease_until < ?", (RUNNING, time.time())
            )
        else:
            rows = await self.database.fetch_all("SELECT * FROM jobs WHERE status = ?", (RUNNING,))
        return [Job.from_row(row) for row in rows]

    async def delete_for(self, subject_id: str, tx: Executor) -> None:
        await tx.execute("DELETE FROM jobs WHERE subject_id = ?", (subject_id,))

    async def latest_for(self, subject_id: str) -> Job | None:
        row = await self.database.fetch_one(
            "SELECT * FROM jobs WHERE subject_id = ? ORDER BY created_at DESC LIMIT 1",
            (subject_id,),
        )
        return None if row is None else Job.from_row(row)

    async def get(self, job_id: str) -> Job | None:
        row = await self.database.fetch_one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return None if row is None else Job.from_row(row)

    async def counts(self) -> dict[str, int]:
        rows = await self.database.fetch_all(
            "SELECT status, COUNT(*) AS n FROM jobs GROUP BY status"
        )
        return {row["status"]: int(row["n"]) for row in rows}
