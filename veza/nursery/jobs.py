"""Job workers: each claims a job from the persistent queue and runs it in its own nursery,
keeping its lease alive; shutdown cancels the job and puts it back in the queue."""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio

from veza.store.database import DatabaseError
from veza.store.jobs import Job, JobQueue

log = logging.getLogger(__name__)


class JobFailed(Exception):
    """A job that cannot succeed however often it is tried (a corrupt file, say)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class JobProgress:
    """Progress reports from a running job, written to the store at a bounded rate."""

    queue: JobQueue
    job: Job
    listeners: list[Callable[[Job, float], Awaitable[None]]] = field(default_factory=list)
    min_interval_s: float = 0.5
    _last_time: float = -math.inf

    async def report(self, fraction: float) -> None:
        now = trio.current_time()
        if now - self._last_time < self.min_interval_s and fraction < 1.0:
            return
        self._last_time = now
        await self.queue.set_progress(self.job.id, fraction)
        for listener in self.listeners:
            await listener(self.job, fraction)


@dataclass(frozen=True)
class JobKind:
    """What a kind of job does, and what its subject becomes when the job fails for good."""

    name: str
    run: Callable[[Job, JobProgress], Awaitable[None]]
    failed: Callable[[Job, str], Awaitable[None]]


class Workers:
    def __init__(
        self,
        queue: JobQueue,
        kinds: list[JobKind],
        *,
        count: int,
        instance: str,
        recover_all_running: bool,
        poll_s: float = 1.0,
        lease_s: float = 60.0,
    ) -> None:
        self.queue = queue
        self.kinds = {kind.name: kind for kind in kinds}
        self.count = count
        self.instance = instance
        # One process per database (SQLite): every job marked running at start-up is an orphan.
        # Shared database (PostgreSQL): only those whose lease has run out.
        self.recover_all_running = recover_all_running
        self.poll_s = poll_s
        self.lease_s = lease_s
        self.progress_listeners: list[Callable[[Job, float], Awaitable[None]]] = []
        self._work_arrived = trio.Event()

    def wake(self) -> None:
        """Tell idle workers that a job was queued by this process (others poll)."""
        self._work_arrived.set()
        self._work_arrived = trio.Event()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        for orphan in await self.queue.requeue_orphans(expired_only=not self.recover_all_running):
            log.warning("job %s (%s) was interrupted; re-queued", orphan.id, orphan.kind)
        async with trio.open_nursery() as nursery:
            for number in range(self.count):
                nursery.start_soon(self._work, f"{self.instance}/{number}", name=f"worker{number}")
            if not self.recover_all_running:
                nursery.start_soon(self._recover_expired)
            task_status.started()

    async def _recover_expired(self) -> None:
        while True:
            await trio.sleep(self.lease_s)
            await self.queue.requeue_orphans(expired_only=True)

    async def _work(self, worker: str) -> None:
        while True:
            try:
                job = await self.queue.claim(worker, self.lease_s)
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

    async def _keep_lease(self, job: Job, worker: str) -> None:
        while True:
            await trio.sleep(self.lease_s / 3)
            try:
                await self.queue.extend_lease(job.id, worker, self.lease_s)
            except DatabaseError as error:
                log.warning("job %s: cannot extend its lease: %s", job.id, error)

    async def _run(self, job: Job, worker: str) -> None:
        kind = self.kinds.get(job.kind)
        if kind is None:
            await self.queue.fail(job.id, f"unknown job kind {job.kind!r}")
            return
        progress = JobProgress(self.queue, job, listeners=self.progress_listeners)
        log.info("job %s (%s) started, attempt %d", job.id, job.kind, job.attempts)
        outcome: list[Exception | None] = []
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._keep_lease, job, worker)
                try:
                    await kind.run(job, progress)
                    outcome.append(None)
                except Exception as raised:
                    outcome.append(raised)
                nursery.cancel_scope.cancel()
        finally:
            # Shielded: a job that finished just as shutdown began is still recorded as such;
            # one cut short goes back to the queue for the next start.
            with trio.CancelScope(shield=True):
                if outcome:
                    await self._settle(kind, job, outcome[0])
                else:
                    await self.queue.release(job.id)
                    log.info("job %s (%s) interrupted; re-queued", job.id, job.kind)

    async def _settle(self, kind: JobKind, job: Job, error: Exception | None) -> None:
        if error is None:
            await self.queue.finish(job.id)
            log.info("job %s (%s) done", job.id, job.kind)
            return
        if isinstance(error, JobFailed):
            reason = error.reason
            await self.queue.fail(job.id, reason)
        else:
            log.error("job %s (%s) crashed", job.id, job.kind, exc_info=error)
            reason = f"internal error: {type(error).__name__}"
            if await self.queue.retry_or_fail(job, reason):
                return
        log.warning("job %s (%s) failed: %s", job.id, job.kind, reason)
        await kind.failed(job, reason)
