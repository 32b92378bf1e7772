"""Job workers: each claims a job from the persistent queue and runs it in its own nursery,
keeping its lease alive; shutdown cancels the job and puts it back in the queue."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import IntEnum

import trio

from veza.errors import Conflict, IntegrityError
from veza.store import Store, Transaction
from veza.store.database import DatabaseError
from veza.store.jobs import Job

__all__ = ["Job", "JobFailed", "JobKind", "JobProgress", "Priority", "Workers"]

log = logging.getLogger(__name__)

# Recording an outcome is shielded from cancellation, so it gets a deadline of its own.
SETTLE_TIMEOUT_S = 15.0

Commit = Callable[[Transaction], Awaitable[None]]


class Priority(IntEnum):
    """Claim order: a person waiting on an upload goes before background work (folder scans,
    re-transcodes after a ladder change); within a priority, oldest first."""

    INTERACTIVE = 0
    BACKGROUND = 10


INTERNAL_ERROR = "internal error"


class JobFailed(Exception):
    """A job that cannot succeed however often it is tried (a corrupt file, say).

    `reason` is for people: its kind may show it to anyone (a failed track's `error`), so it
    is a short sentence with no path, address or library output. `detail` is for the operator:
    it goes to the log and the job's own record, beside the reason."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class _LostJob(Exception):
    """The job was taken over by another worker after this one's lease ran out."""


@dataclass
class JobProgress:
    """Progress reports from a running job, written to the store at a bounded rate; each one
    written is also handed to `recorded` (its kind's hook), at the same rate."""

    store: Store
    job: Job
    worker: str
    recorded: Callable[[Job, float], object]
    min_interval_s: float = 0.5
    _last_time: float = -math.inf

    async def report(self, fraction: float) -> None:
        now = trio.current_time()
        if now - self._last_time < self.min_interval_s and fraction < 1.0:
            return
        self._last_time = now
        await self.store.jobs.set_progress(self.job, self.worker, fraction)
        self.recorded(self.job, fraction)


@dataclass(frozen=True)
class JobKind:
    """What a kind of job does, and what its subject becomes when it fails for good.

    `run` returns the write that records its result; the worker makes it in the same
    transaction that marks the job done, so a crash can never leave one without the other.
    `failed` is likewise called inside the transaction that marks the job failed, with the
    reason for people. Either may register work to follow the commit with `tx.on_commit`
    (publishing an event). `subject` names what a job works on, for the log.

    A kind with `own_worker` runs on a worker of its own beside the `count` shared ones: long
    work that mostly waits on the disk (a music-folder scan) must not hold the slot a person's
    upload needs for its transcode."""

    name: str
    run: Callable[[Job, JobProgress], Awaitable[Commit]]
    failed: Callable[[Job, str, Transaction], Awaitable[None]]
    progressed: Callable[[Job, float], object] = lambda job, fraction: None
    subject: str = "subject"
    own_worker: bool = False


@dataclass
class _Attempt:
    commit: Commit | None = None
    error: Exception | None = None
    lease_lost: bool = False


class _Running:
    """A job running in this process: how to stop it, and an event set once it has stopped."""

    def __init__(self, scope: trio.CancelScope) -> None:
        self.scope = scope
        self.stopped = trio.Event()


class Workers:
    def __init__(
        self,
        store: Store,
        kinds: list[JobKind],
        *,
        count: int,
        instance: str,
        recover_all_running: bool,
        poll_s: float = 1.0,
        lease_s: float = 60.0,
        only_own_kinds: bool = False,
    ) -> None:
        self.store = store
        self.kinds = {kind.name: kind for kind in kinds}
        self.count = count
        self.instance = instance
        # One process per database (SQLite): every job marked running at start-up is an orphan.
        # Shared database (PostgreSQL): only those whose lease has run out.
        self.recover_all_running = recover_all_running
        self.poll_s = poll_s
        self.lease_s = lease_s
        self._work_arrived = trio.Event()
        self._running: dict[str, _Running] = {}  # by subject
        # Claim only jobs of `kinds` (a command running one kind beside a server), rather than
        # every job, failing those of a kind it does not know.
        self._only_own_kinds = only_own_kinds

    def register(self, kind: JobKind) -> None:
        """Add a kind built after the workers (one whose service needs them); before `run`."""
        self.kinds[kind.name] = kind

    async def cancel(self, subject_id: str) -> None:
        """Stop this process's job on `subject_id`, if one runs (its subject is going away), and
        return once it has stopped: its `finally` blocks have run and its outcome is recorded,
        so nothing it owned still writes."""
        running = self._running.get(subject_id)
        if running is not None:
            running.scope.cancel()
            await running.stopped.wait()

    # An admin's hand on the queue (GET/POST /api/v1/admin/jobs).

    async def jobs(
        self, status: str | None, after: tuple[float, str] | None, limit: int
    ) -> list[Job]:
        """Jobs newest first, optionally of one status."""
        return await self.store.jobs.list(status, after, limit)

    async def job(self, job_id: str) -> Job | None:
        return await self.store.jobs.get(job_id)

    async def retry(self, job_id: str) -> None:
        """A failed job queued again with its attempts anew. Conflict unless it had failed, or
        when its kind runs one at a time and another is queued or running."""
        try:
            retried = await self.store.jobs.retry(job_id)
        except IntegrityError:
            raise Conflict("a job of this kind is already queued or running") from None
        if not retried:
            raise Conflict("only a failed job can be retried")
        self.wake()

    async def cancel_job(self, job_id: str, reason: str) -> Job | None:
        """Fail a queued or running job on purpose: its kind hears `reason` as for any failure
        (a track shows it), and a run of it in this process is stopped (in another process it
        stops at its next lease renewal). None when the job had already ended."""
        async with self.store.transaction() as tx:
            job = await tx.jobs.cancel(job_id, reason)
            kind = None if job is None else self.kinds.get(job.kind)
            if job is not None and kind is not None:
                await kind.failed(job, reason, tx)
        if job is not None:
            running = self._running.get(job.subject_id)
            if running is not None:
                running.scope.cancel()
                await running.stopped.wait()
        return job

    def wake(self) -> None:
        """Tell idle workers that a job was queued by this process (others poll)."""
        self._work_arrived.set()
        self._work_arrived = trio.Event()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await self._recover(expired_only=not self.recover_all_running)
        own = tuple(name for name, kind in self.kinds.items() if kind.own_worker)
        shared = tuple(name for name in self.kinds if name not in own)
        # A command claiming only its own kinds, all with workers of their own, needs no other.
        shared_workers = 0 if self._only_own_kinds and not shared else self.count
        async with trio.open_nursery() as nursery:
            for number in range(shared_workers):
                worker = f"{self.instance}/{number}"
                claimable = shared if self._only_own_kinds else None
                nursery.start_soon(self._work, worker, claimable, own, name=f"worker{number}")
            for name in own:
                worker = f"{self.instance}/{name}"
                nursery.start_soon(self._work, worker, (name,), (), name=f"{name} worker")
            if not self.recover_all_running:
                nursery.start_soon(self._recover_expired)
            task_status.started()

    async def _recover(self, *, expired_only: bool) -> None:
        """Jobs whose worker died go back to the queue, or fail once their attempts are spent:
        a crash counts as an attempt, so a file that kills the process every time cannot
        crash-loop it forever."""
        for orphan in await self.store.jobs.orphans(expired_only=expired_only):
            if orphan.attempts >= orphan.max_attempts:
                with contextlib.suppress(_LostJob):  # another process recovered it first
                    await self._fail(
                        orphan,
                        orphan.worker,
                        f"the {orphan.kind} was interrupted too many times",
                        f"attempt {orphan.attempts} of {orphan.max_attempts} was abandoned "
                        "by its worker",
                    )
            elif await self.store.jobs.requeue(
                orphan, orphan.worker, "interrupted; re-queued", refund_attempt=False
            ):
                log.warning("job %s (%s) was interrupted; re-queued", orphan.id, orphan.kind)

    async def _recover_expired(self) -> None:
        while True:
            await trio.sleep(self.lease_s)
            try:
                await self._recover(expired_only=True)
            except DatabaseError as error:
                log.warning("cannot look for abandoned jobs: %s", error)

    async def _work(
        self, worker: str, claimable: tuple[str, ...] | None, excluded: tuple[str, ...]
    ) -> None:
        """Claim and run jobs of `claimable` kinds (None: any kind, so that a job of a kind this
        process does not know is failed rather than left queued), never of `excluded` ones."""
        while True:
            try:
                async with self.store.transaction() as tx:
                    job = await tx.jobs.claim(worker, self.lease_s, claimable, excluded)
            except DatabaseError as error:
                # The database being unusable for a while must not take the server down;
                # /status reports it, and the worker tries again.
                log.warning("worker %s cannot claim jobs: %s", worker, error)
                await trio.sleep(max(self.poll_s, 5.0))
                continue
            if job is None:
                with trio.move_on_after(self.poll_s):
                    await self._work_arrived.wait()
                continue
            await self._run(job, worker)

    async def _keep_lease(
        self, job: Job, worker: str, attempt: _Attempt, scope: trio.CancelScope
    ) -> None:
        while True:
            await trio.sleep(self.lease_s / 3)
            try:
                held = await self.store.jobs.extend_lease(job, worker, self.lease_s)
            except DatabaseError as error:
                log.warning("job %s: cannot extend its lease: %s", job.id, error)
                continue
            if not held:
                attempt.lease_lost = True
                scope.cancel()
                return

    async def _run(self, job: Job, worker: str) -> None:
        kind = self.kinds.get(job.kind)
        attempt = _Attempt()
        if kind is None:
            attempt.error = JobFailed(INTERNAL_ERROR, f"unknown job kind {job.kind!r}")
        else:
            log.info("job %s (%s) started, attempt %d", job.id, job.kind, job.attempts)
        running = _Running(trio.CancelScope())
        self._running[job.subject_id] = running
        try:
            with running.scope:
                if kind is not None:
                    await self._attempt(kind, job, worker, attempt)
        finally:
            try:
                with trio.CancelScope(shield=True):
                    await self._settle(job, worker, attempt)
            finally:
                del self._running[job.subject_id]
                running.stopped.set()

    async def _attempt(self, kind: JobKind, job: Job, worker: str, attempt: _Attempt) -> None:
        progress = JobProgress(self.store, job, worker, kind.progressed)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._keep_lease, job, worker, attempt, nursery.cancel_scope)
            try:
                attempt.commit = await kind.run(job, progress)
            except Exception as raised:
                attempt.error = raised
            except BaseExceptionGroup as group:
                # Stopped (shutdown, a lost lease, a cancel) while one of the job's tasks failed
                # of its own: the stop wins and the job goes back to the queue; the error must
                # not escape the worker and end the server.
                errors, stop = group.split(Exception)
                if errors is not None:
                    log.warning(
                        "job %s (%s) failed while stopping", job.id, job.kind, exc_info=errors
                    )
                assert stop is not None  # else it would be an ExceptionGroup, caught above
                raise stop from None
            nursery.cancel_scope.cancel()

    async def _settle(self, job: Job, worker: str, attempt: _Attempt) -> None:
        """Record how the attempt ended. A database that cannot take the record leaves the job
        running, to be recovered like a crashed one; it never takes the server down."""
        with trio.move_on_after(SETTLE_TIMEOUT_S) as deadline:
            try:
                if attempt.lease_lost:
                    log.warning("job %s (%s): lease lost to another worker", job.id, job.kind)
                elif attempt.commit is not None:
                    await self._finish(job, worker, attempt.commit)
                elif attempt.error is not None:
                    await self._failed_attempt(job, worker, attempt.error)
                elif await self.store.jobs.requeue(job, worker, None, refund_attempt=True):
                    log.info("job %s (%s) interrupted; re-queued", job.id, job.kind)
            except DatabaseError as error:
                log.error("job %s (%s): cannot record its outcome: %s", job.id, job.kind, error)
            except _LostJob:
                log.warning("job %s (%s) was taken over; result dropped", job.id, job.kind)
        if deadline.cancelled_caught:
            log.error("job %s (%s): recording its outcome timed out", job.id, job.kind)

    async def _finish(self, job: Job, worker: str, commit: Commit) -> None:
        async with self.store.transaction() as tx:
            if not await tx.jobs.finish(job, worker):
                raise _LostJob
            await commit(tx)
        log.info("job %s (%s) done", job.id, job.kind)

    async def _failed_attempt(self, job: Job, worker: str, error: Exception) -> None:
        if isinstance(error, JobFailed):
            await self._fail(job, worker, error.reason, error.detail)
            return
        log.error("job %s (%s) on %s crashed", job.id, job.kind, self._subject(job), exc_info=error)
        detail = f"{type(error).__name__}: {error}"
        if job.attempts < job.max_attempts:
            record = _record(INTERNAL_ERROR, detail)
            await self.store.jobs.requeue(job, worker, record, refund_attempt=False)
        else:
            await self._fail(job, worker, INTERNAL_ERROR, detail)

    async def _fail(
        self, job: Job, worker: str | None, reason: str, detail: str | None = None
    ) -> None:
        """Fail the job for good: its record keeps the reason and the detail, its kind hears
        the reason alone, and the log has both with the job and its subject."""
        kind = self.kinds.get(job.kind)
        record = _record(reason, detail)
        async with self.store.transaction() as tx:
            if not await tx.jobs.fail(job, worker, record):
                raise _LostJob
            if kind is not None:
                await kind.failed(job, reason, tx)
        log.warning("job %s (%s) on %s failed: %s", job.id, job.kind, self._subject(job), record)

    def _subject(self, job: Job) -> str:
        """`track 3fa4...` for the log."""
        kind = self.kinds.get(job.kind)
        return f"{kind.subject if kind else 'subject'} {job.subject_id}"


def _record(reason: str, detail: str | None) -> str:
    return reason if detail is None else f"{reason} ({detail})"
