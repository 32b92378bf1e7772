"""The persistent job queue: jobs are claimed atomically, leased, counted and re-queued."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from veza.store.database import Executor, Row

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

# Jobs are claimed by priority (lowest first), then oldest first.
PRIORITY = (
    "ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0",
    "DROP INDEX jobs_status_created",
    "CREATE INDEX jobs_claim_order ON jobs (status, priority, created_at)",
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
    created_at: float = 0.0
    updated_at: float = 0.0

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
            created_at=float(row["created_at"]),
            updated_at=float(row["updated_at"]),
        )


class JobQueue:
    """Queries over one executor: the database itself, or a transaction (see Store)."""

    def __init__(self, executor: Executor) -> None:
        self._db = executor

    async def enqueue(
        self, kind: str, subject_id: str, *, max_attempts: int = 3, priority: int = 0
    ) -> Job:
        job = Job(
            id=secrets.token_hex(12),
            kind=kind,
            subject_id=subject_id,
            status=QUEUED,
            attempts=0,
            max_attempts=max_attempts,
            progress=0.0,
            error=None,
            worker=None,
        )
        now = time.time()
        await self._db.execute(
            """INSERT INTO jobs
                   (id, kind, subject_id, status, max_attempts, priority, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            (job.id, kind, subject_id, QUEUED, max_attempts, priority, now, now),
        )
        return job

    async def claim(
        self,
        worker: str,
        lease_s: float,
        kinds: tuple[str, ...] | None = None,
        excluded: tuple[str, ...] = (),
    ) -> Job | None:
        """Take the most urgent queued job (lowest priority, then oldest) for `worker`, counting
        the attempt, or None; only one of `kinds` when given, never one of `excluded`. Call it
        in a transaction: an UPDATE that returns its row needs the writer connection.

        The status re-check in the outer WHERE makes two racing claimers safe on PostgreSQL too:
        the loser's UPDATE matches nothing and it simply sees no job this round."""
        if kinds is not None and not kinds:
            return None  # none of no kinds (and `IN ()` is no SQL PostgreSQL takes)
        now = time.time()
        only = f" AND kind IN ({', '.join('?' for _ in kinds)})" if kinds is not None else ""
        if excluded:
            only += f" AND kind NOT IN ({', '.join('?' for _ in excluded)})"
        row = await self._db.fetch_one(
            f"""UPDATE jobs SET status = ?, attempts = attempts + 1, worker = ?,
                       lease_until = ?, updated_at = ?, error = NULL
                   WHERE status = ? AND id = (
                       SELECT id FROM jobs WHERE status = ?{only}
                   ORDER BY priority, created_at, id LIMIT 1)
               RETURNING *""",
            (RUNNING, worker, now + lease_s, now, QUEUED, QUEUED, *(kinds or ()), *excluded),
        )
        return None if row is None else Job.from_row(row)

    async def extend_lease(self, job: Job, worker: str, lease_s: float) -> bool:
        """Keep the job for `worker`; False when it is no longer the worker's to keep."""
        changed = await self._db.execute(
            f"UPDATE jobs SET lease_until = ? WHERE {_OWNED}",
            (time.time() + lease_s, job.id, RUNNING, worker),
        )
        return changed == 1

    async def set_progress(self, job: Job, worker: str, fraction: float) -> None:
        await self._db.execute(
            f"UPDATE jobs SET progress = ?, updated_at = ? WHERE {_OWNED}",
            (min(max(fraction, 0.0), 1.0), time.time(), job.id, RUNNING, worker),
        )

    # Settling: each takes the worker that owns the job and changes nothing (returns False) when
    # it does not own it any more, so a worker whose lease ran out cannot overwrite the outcome
    # of the one that took the job over.

    async def finish(self, job: Job, worker: str | None) -> bool:
        changed = await self._db.execute(
            f"UPDATE jobs SET status = ?, progress = 1, lease_until = NULL, updated_at = ? "
            f"WHERE {_OWNED}",
            (DONE, time.time(), job.id, RUNNING, worker),
        )
        return changed == 1

    async def fail(self, job: Job, worker: str | None, reason: str) -> bool:
        changed = await self._db.execute(
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
        changed = await self._db.execute(
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
            rows = await self._db.fetch_all(
                "SELECT * FROM jobs WHERE status = ? AND lease_until < ?", (RUNNING, time.time())
            )
        else:
            rows = await self._db.fetch_all("SELECT * FROM jobs WHERE status = ?", (RUNNING,))
        return [Job.from_row(row) for row in rows]

    async def delete_for(self, subject_id: str) -> None:
        await self._db.execute("DELETE FROM jobs WHERE subject_id = ?", (subject_id,))

    async def latest_for(self, subject_id: str) -> Job | None:
        row = await self._db.fetch_one(
            "SELECT * FROM jobs WHERE subject_id = ? ORDER BY created_at DESC LIMIT 1",
            (subject_id,),
        )
        return None if row is None else Job.from_row(row)

    async def get(self, job_id: str) -> Job | None:
        row = await self._db.fetch_one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return None if row is None else Job.from_row(row)

    async def counts(self) -> dict[str, int]:
        rows = await self._db.fetch_all("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
        return {row["status"]: int(row["n"]) for row in rows}

    # What an admin sees and does (veza/nursery/jobs.py Workers.retry and .cancel).

    async def list(
        self, status: str | None, after: tuple[float, str] | None, limit: int
    ) -> list[Job]:
        """Newest first, optionally of one status, after the (created_at, id) key."""
        conditions: list[str] = []
        params: list[object] = []
        if status is not None:
            conditions.append("status = ?")
            params.append(status)
        if after is not None:
            conditions.append("(created_at < ? OR (created_at = ? AND id < ?))")
            params += [after[0], after[0], after[1]]
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = await self._db.fetch_all(
            f"SELECT * FROM jobs {where} ORDER BY created_at DESC, id DESC LIMIT ?",
            (*params, limit),
        )
        return [Job.from_row(row) for row in rows]

    async def retry(self, job_id: str) -> bool:
        """A failed job back to the queue with its attempts anew; False unless it had failed."""
        changed = await self._db.execute(
            """UPDATE jobs SET status = ?, attempts = 0, error = NULL, worker = NULL,
                   lease_until = NULL, progress = 0, updated_at = ?
               WHERE id = ? AND status = ?""",
            (QUEUED, time.time(), job_id, FAILED),
        )
        return changed == 1

    async def cancel(self, job_id: str, reason: str) -> Job | None:
        """A queued or running job failed on purpose, as it stood; None when it had ended.
        A worker still running it loses it (its lease and its outcome need it running)."""
        row = await self._db.fetch_one(
            """UPDATE jobs SET status = ?, error = ?, worker = NULL, lease_until = NULL,
                   updated_at = ?
               WHERE id = ? AND status IN (?, ?)
               RETURNING *""",
            (FAILED, reason, time.time(), job_id, QUEUED, RUNNING),
        )
        return None if row is None else Job.from_row(row)

    async def active(self, kind: str) -> Job | None:
        """The queued or running job of `kind` (for kinds that run one at a time)."""
        row = await self._db.fetch_one(
            "SELECT * FROM jobs WHERE kind = ? AND status IN (?, ?) ORDER BY created_at LIMIT 1",
            (kind, QUEUED, RUNNING),
        )
        return None if row is None else Job.from_row(row)

    async def latest_of(self, kind: str) -> Job | None:
        row = await self._db.fetch_one(
            "SELECT * FROM jobs WHERE kind = ? ORDER BY created_at DESC, id DESC LIMIT 1",
            (kind,),
        )
        return None if row is None else Job.from_row(row)
