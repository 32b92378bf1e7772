"""Job workers against a real SQLite queue: success, failure, retry, shutdown, crash recovery."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from tests.support import eventually
from tests.support.server import make_settings
from veza.nursery.jobs import Commit, JobFailed, JobKind, JobProgress, Workers
from veza.store import Store, Transaction, open_store
from veza.store.jobs import Job


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(make_settings(tmp_path)) as opened:
        await opened.database.execute("CREATE TABLE outcomes (job_id TEXT, outcome TEXT)")
        yield opened


class Recorder:
    """A job kind whose behaviour each test sets. What it records goes to the `outcomes` table
    through the worker's transaction, as a real kind's result does."""

    def __init__(self) -> None:
        self.runs: list[str] = []
        self.behaviour: str = "succeed"
        self.per_subject: dict[str, str] = {}
        self.started = trio.Event()
        self.hanging = trio.Event()
        self.cancelled = trio.Event()

    async def run(self, job: Job, progress: JobProgress) -> Commit:
        self.runs.append(job.id)
        self.started.set()
        await progress.report(0.5)
        behaviour = self.per_subject.get(job.subject_id, self.behaviour)
        if behaviour == "fail":
            raise JobFailed("the file is not audio")
        if behaviour == "crash":
            raise RuntimeError("bug")
        if behaviour == "hang":
            try:
                self.hanging.set()
                await trio.sleep_forever()
            finally:
                self.cancelled.set()
        sql = "INSERT INTO outcomes (job_id, outcome) VALUES (?, 'done')"
        if behaviour == "refused-write":
            sql = "INSERT INTO no_such_table VALUES (?)"

        async def commit(tx: Transaction) -> None:
            await tx.executor.execute(sql, (job.id,))

        return commit

    async def failed(self, job: Job, reason: str, tx: Transaction) -> None:
        await tx.executor.execute(
            "INSERT INTO outcomes (job_id, outcome) VALUES (?, ?)", (job.id, reason)
        )

    def kind(self) -> JobKind:
        return JobKind("test", self.run, self.failed)


async def outcomes(store: Store) -> list[tuple[str, str]]:
    rows = await store.database.fetch_all("SELECT job_id, outcome FROM outcomes")
    return [(row["job_id"], row["outcome"]) for row in rows]


def workers(
    store: Store, recorder: Recorder, count: int = 1, *, shared: bool = False, lease_s: float = 60
) -> Workers:
    return Workers(
        store,
        [recorder.kind()],
        count=count,
        instance="test",
        recover_all_running=not shared,
        poll_s=0.05,
        lease_s=lease_s,
    )


async def claim(store: Store, worker: str, lease_s: float) -> Job | None:
    """Claim a job as another process's worker would."""
    async with store.transaction() as tx:
        return await tx.jobs.claim(worker, lease_s)


async def settled(store: Store, *job_ids: str) -> bool:
    jobs = [await store.jobs.get(job_id) for job_id in job_ids]
    return all(job is not None and job.status in ("done", "failed") for job in jobs)


async def run_until(store: Store, recorder: Recorder, *job_ids: str, count: int = 1) -> None:
    """Run workers until every given job is done or failed (or, with none, until one starts)."""
    async with trio.open_nursery() as nursery:
        await nursery.start(workers(store, recorder, count).run)
        if job_ids:
            await eventually(lambda: settled(store, *job_ids))
        else:
            with trio.fail_after(10):
                await recorder.started.wait()
        nursery.cancel_scope.cancel()


async def test_a_job_runs_once_and_is_done(store: Store) -> None:
    recorder = Recorder()
    job = await store.jobs.enqueue("test", "subject")
    await run_until(store, recorder, job.id)
    finished = await store.jobs.get(job.id)
    assert finished is not None
    assert (finished.status, finished.progress, finished.attempts) == ("done", 1.0, 1)
    assert recorder.runs == [job.id]
    assert await outcomes(store) == [(job.id, "done")]


async def test_a_permanent_failure_fails_at_once_with_its_reason(store: Store) -> None:
    recorder = Recorder()
    recorder.behaviour = "fail"
    job = await store.jobs.enqueue("test", "subject", max_attempts=3)
    await run_until(store, recorder, job.id)
    failed = await store.jobs.get(job.id)
    assert failed is not None
    assert (failed.status, failed.error, failed.attempts) == ("failed", "the file is not audio", 1)
    assert await outcomes(store) == [(job.id, "the file is not audio")]


async def test_a_crashing_job_is_retried_until_its_attempts_are_spent(store: Store) -> None:
    recorder = Recorder()
    recorder.behaviour = "crash"
    job = await store.jobs.enqueue("test", "subject", max_attempts=2)
    await run_until(store, recorder, job.id)
    failed = await store.jobs.get(job.id)
    assert failed is not None
    assert (failed.status, failed.attempts) == ("failed", 2)
    assert failed.error == "internal error (RuntimeError: bug)"
    assert recorder.runs == [job.id, job.id]
    assert await outcomes(store) == [(job.id, "internal error")]


async def test_shutdown_puts_a_running_job_back_without_spending_an_attempt(store: Store) -> None:
    recorder = Recorder()
    recorder.behaviour = "hang"
    job = await store.jobs.enqueue("test", "subject")
    await run_until(store, recorder)
    released = await store.jobs.get(job.id)
    assert released is not None
    assert (released.status, released.attempts) == ("queued", 0)


async def test_a_job_left_running_by_a_crash_is_requeued_and_finished(store: Store) -> None:
    job = await store.jobs.enqueue("test", "subject")
    claimed = await claim(store, "dead-process/0", lease_s=600)
    assert claimed is not None and claimed.id == job.id
    recorder = Recorder()
    await run_until(store, recorder, job.id)
    finished = await store.jobs.get(job.id)
    assert finished is not None
    assert (finished.status, finished.attempts) == ("done", 2)


async def test_many_jobs_over_two_workers_each_run_exactly_once(store: Store) -> None:
    recorder = Recorder()
    jobs = [await store.jobs.enqueue("test", f"s{i}") for i in range(12)]
    await run_until(store, recorder, *(job.id for job in jobs), count=2)
    assert sorted(recorder.runs) == sorted(job.id for job in jobs)


async def test_an_unknown_kind_fails_the_job(store: Store) -> None:
    job = await store.jobs.enqueue("no-such-kind", "subject")
    recorder = Recorder()
    await run_until(store, recorder, job.id)
    failed = await store.jobs.get(job.id)
    assert failed is not None and failed.status == "failed"
    assert "unknown job kind" in (failed.error or "")


async def test_a_job_whose_attempts_a_crash_spent_fails_its_subject(store: Store) -> None:
    job = await store.jobs.enqueue("test", "subject", max_attempts=1)
    assert await claim(store, "dead-process/0", lease_s=600) is not None
    await run_until(store, Recorder(), job.id)
    failed = await store.jobs.get(job.id)
    assert failed is not None
    reason = "the test was interrupted too many times"
    assert (failed.status, failed.error) == (
        "failed",
        f"{reason} (attempt 1 of 1 was abandoned by its worker)",
    )
    assert await outcomes(store) == [(job.id, reason)]


async def test_a_refused_result_leaves_the_job_unfinished_and_the_workers_alive(
    store: Store,
) -> None:
    recorder = Recorder()
    recorder.per_subject["first"] = "refused-write"
    refused = await store.jobs.enqueue("test", "first")
    later = await store.jobs.enqueue("test", "second")
    # One worker: it reaches the second job only after it has dealt with the first.
    await run_until(store, recorder, later.id)
    assert recorder.runs == [refused.id, later.id]
    unfinished = await store.jobs.get(refused.id)
    assert unfinished is not None and unfinished.status == "running"  # recovered at next start
    assert await outcomes(store) == [(later.id, "done")]


async def test_a_worker_that_loses_its_lease_stops_and_records_nothing(store: Store) -> None:
    recorder = Recorder()
    recorder.behaviour = "hang"
    job = await store.jobs.enqueue("test", "subject")
    pool = workers(store, recorder, shared=True, lease_s=0.3)
    async with trio.open_nursery() as nursery:
        await nursery.start(pool.run)
        with trio.fail_after(10):
            await recorder.started.wait()
        # Another process's worker took the job over after this one's lease ran out.
        await store.database.execute(
            "UPDATE jobs SET worker = 'other-process/0', lease_until = ?", (time.time() + 600,)
        )
        with trio.fail_after(10):
            await recorder.cancelled.wait()
            # Returns once the worker has settled the attempt: whatever it records, it has.
            await pool.cancel("subject")
        nursery.cancel_scope.cancel()
    taken = await store.jobs.get(job.id)
    assert taken is not None
    assert (taken.status, taken.worker, taken.attempts) == ("running", "other-process/0", 1)
    assert recorder.runs == [job.id]


async def test_with_a_shared_database_only_expired_leases_are_recovered(store: Store) -> None:
    live = await store.jobs.enqueue("test", "live")
    assert await claim(store, "other-process/0", lease_s=600) is not None
    expired = await store.jobs.enqueue("test", "expired")
    assert await claim(store, "dead-process/0", lease_s=-1) is not None
    recorder = Recorder()
    async with trio.open_nursery() as nursery:
        await nursery.start(workers(store, recorder, shared=True).run)
        await eventually(lambda: settled(store, expired.id))
        nursery.cancel_scope.cancel()
    assert recorder.runs == [expired.id]
    still = await store.jobs.get(live.id)
    assert still is not None and (still.status, still.worker) == ("running", "other-process/0")


async def test_cancel_returns_once_the_job_has_stopped_and_its_outcome_is_recorded(
    store: Store,
) -> None:
    recorder = Recorder()
    recorder.behaviour = "hang"
    job = await store.jobs.enqueue("test", "subject")
    pool = workers(store, recorder)
    async with trio.open_nursery() as nursery:
        await nursery.start(pool.run)
        with trio.fail_after(10):
            await recorder.hanging.wait()
        await pool.cancel("subject")
        # No checkpoint between the return and these checks: cancel itself waited.
        assert recorder.cancelled.is_set()
        released = await store.jobs.get(job.id)
        assert released is not None
        # Re-queued with its attempt refunded; the worker, free again, may already have claimed
        # it anew, and then a second run starts (without the re-queue there would be none).
        assert (released.status, released.attempts) in {("queued", 0), ("running", 1)}
        if released.status == "running":

            async def ran_again() -> bool:
                return len(recorder.runs) == 2

            await eventually(ran_again)
        await pool.cancel("subject")  # returns once that run, if any, has stopped too
        nursery.cancel_scope.cancel()


async def test_a_kind_with_its_own_worker_never_holds_the_shared_ones(store: Store) -> None:
    # One shared worker, held by a long job of a kind that has its own worker: a job of
    # another kind queued behind it still runs (before, the one worker waited for it).
    long, short = Recorder(), Recorder()
    long.behaviour = "hang"
    kinds = [
        JobKind("scan", long.run, long.failed, own_worker=True),
        JobKind("test", short.run, short.failed),
    ]
    scan = await store.jobs.enqueue("scan", "folders")
    job = await store.jobs.enqueue("test", "subject")
    running = Workers(store, kinds, count=1, instance="test", recover_all_running=True, poll_s=0.05)
    async with trio.open_nursery() as nursery:
        await nursery.start(running.run)
        with trio.fail_after(10):
            await long.hanging.wait()
        await eventually(lambda: settled(store, job.id))
        still = await store.jobs.get(scan.id)
        assert still is not None and still.status == "running"
        assert (still.worker, short.runs) == ("test/scan", [job.id])
        nursery.cancel_scope.cancel()


async def test_a_job_failing_while_it_is_stopped_goes_back_to_the_queue(store: Store) -> None:
    # One of the job's tasks fails of its own as the stop arrives (a child's pipe breaking as
    # it is killed): the nursery raises both, and the error must not escape the worker.
    started = trio.Event()

    async def run(job: Job, progress: JobProgress) -> Commit:
        async def breaks_on_the_way_out() -> None:
            try:
                await trio.sleep_forever()
            finally:
                raise RuntimeError("broken pipe")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(breaks_on_the_way_out)
            nursery.start_soon(trio.sleep_forever)
            started.set()
        raise AssertionError("not reached")

    async def failed(job: Job, reason: str, tx: Transaction) -> None:
        raise AssertionError("not a failure")

    job = await store.jobs.enqueue("test", "subject")
    running = Workers(
        store, [JobKind("test", run, failed)], count=1, instance="test", recover_all_running=True
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(running.run)
        with trio.fail_after(10):
            await started.wait()
        nursery.cancel_scope.cancel()
    requeued = await store.jobs.get(job.id)
    assert requeued is not None
    assert (requeued.status, requeued.attempts) == ("queued", 0)
