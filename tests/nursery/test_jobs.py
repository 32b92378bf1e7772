"""Job workers against a real SQLite queue: success, failure, retry, shutdown, crash recovery."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from tests.conftest import make_settings
from tests.support import eventually
from veza.nursery.jobs import JobFailed, JobKind, JobProgress, Workers
from veza.store import Store, open_store
from veza.store.jobs import Job


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(make_settings(tmp_path)) as opened:
        yield opened


class Recorder:
    """A job kind whose behaviour each test sets; it records what happened."""

    def __init__(self) -> None:
        self.runs: list[str] = []
        self.failures: list[tuple[str, str]] = []
        self.behaviour: str = "succeed"
        self.started = trio.Event()

    async def run(self, job: Job, progress: JobProgress) -> None:
        self.runs.append(job.id)
        self.started.set()
        await progress.report(0.5)
        if self.behaviour == "fail":
            raise JobFailed("the file is not audio")
        if self.behaviour == "crash":
            raise RuntimeError("bug")
        if self.behaviour == "hang":
            await trio.sleep_forever()

    async def failed(self, job: Job, reason: str) -> None:
        self.failures.append((job.id, reason))

    def kind(self) -> JobKind:
        return JobKind("test", self.run, self.failed)


def workers(store: Store, recorder: Recorder, count: int = 1) -> Workers:
    return Workers(
        store.jobs,
        [recorder.kind()],
        count=count,
        instance="test",
        recover_all_running=True,
        poll_s=0.05,
    )


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


async def test_a_permanent_failure_fails_at_once_with_its_reason(store: Store) -> None:
    recorder = Recorder()
    recorder.behaviour = "fail"
    job = await store.jobs.enqueue("test", "subject", max_attempts=3)
    await run_until(store, recorder, job.id)
    failed = await store.jobs.get(job.id)
    assert failed is not None
    assert (failed.status, failed.error, failed.attempts) == ("failed", "the file is not audio", 1)
    assert recorder.failures == [(job.id, "the file is not audio")]


async def test_a_crashing_job_is_retried_until_its_attempts_are_spent(store: Store) -> None:
    recorder = Recorder()
    recorder.behaviour = "crash"
    job = await store.jobs.enqueue("test", "subject", max_attempts=2)
    await run_until(store, recorder, job.id)
    failed = await store.jobs.get(job.id)
    assert failed is not None
    assert (failed.status, failed.attempts) == ("failed", 2)
    assert failed.error == "internal error: RuntimeError"
    assert recorder.runs == [job.id, job.id]


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
    claimed = await store.jobs.claim("dead-process/0", lease_s=600)
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
