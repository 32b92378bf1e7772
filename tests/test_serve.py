"""Lifetimes: graceful shutdown of in-flight work, periodic tasks, the second signal."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import httpx
import pytest
import trio
from trio.testing import MockClock

from tests.support.server import make_settings
from veza.nursery.periodic import PeriodicTask, run_periodic
from veza.nursery.signals import watch_signals
from veza.serve import run_veza


@pytest.mark.slow
async def test_shutdown_lets_a_short_request_finish_and_cancels_a_stuck_one(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, shutdown_grace_seconds=0.5)
    shutdown = trio.Event()
    outcomes: dict[str, str] = {}
    async with trio.open_nursery() as nursery:
        running = await nursery.start(run_veza, settings, shutdown)

        arrived = {"short": trio.Event(), "stuck": trio.Event()}

        async def short() -> str:
            arrived["short"].set()
            await trio.sleep(0.2)
            return "finished"

        async def stuck() -> str:
            arrived["stuck"].set()
            try:
                await trio.sleep_forever()
            except trio.Cancelled:
                stuck_cancelled.set()
                raise
            return "never"

        stuck_cancelled = trio.Event()
        running.app.add_url_rule("/test/short", "short", short)
        running.app.add_url_rule("/test/stuck", "stuck", stuck)

        async def call(name: str) -> None:
            async with httpx.AsyncClient(base_url=running.urls[0], timeout=5) as client:
                try:
                    response = await client.get(f"/test/{name}")
                    outcomes[name] = f"{response.status_code} {response.text}"
                except httpx.HTTPError as error:
                    outcomes[name] = f"{type(error).__name__}: {error}"

        async def stop_once_both_arrived() -> None:
            for event in arrived.values():
                await event.wait()
            shutdown.set()

        nursery.start_soon(call, "short")
        nursery.start_soon(call, "stuck")
        with trio.fail_after(5):
            await stop_once_both_arrived()
    # The short one is answered in full; the stuck one is cut off once the grace period is
    # over: its handler cancelled, its connection closed with no response at all.
    assert outcomes == {
        "short": "200 finished",
        "stuck": "RemoteProtocolError: Server disconnected without sending a response.",
    }
    assert stuck_cancelled.is_set()


@pytest.mark.slow
async def test_run_veza_returns_within_the_grace_period(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, shutdown_grace_seconds=0.5)
    shutdown = trio.Event()
    arrived = trio.Event()
    outcome: list[BaseException] = []
    stopping = 0.0
    with trio.fail_after(3):
        async with trio.open_nursery() as nursery:
            running = await nursery.start(run_veza, settings, shutdown)

            async def stuck() -> str:
                arrived.set()
                await trio.sleep_forever()
                return "never"

            running.app.add_url_rule("/test/stuck", "stuck", stuck)

            async def call() -> None:
                async with httpx.AsyncClient(base_url=running.urls[0], timeout=5) as client:
                    try:
                        await client.get("/test/stuck")
                    except httpx.HTTPError as error:
                        outcome.append(error)

            nursery.start_soon(call)
            await arrived.wait()
            shutdown.set()
            stopping = trio.current_time()
    # The stuck request had the whole grace period, and not much more.
    assert 0.5 <= trio.current_time() - stopping < 2.5
    # The request was in flight (it reached the handler) and was cut off by the grace period,
    # not refused at connect time.
    assert [f"{type(error).__name__}: {error}" for error in outcome] == [
        "RemoteProtocolError: Server disconnected without sending a response."
    ]


async def test_a_failing_periodic_task_is_logged_and_retried(
    caplog: pytest.LogCaptureFixture, autojump_clock: MockClock
) -> None:
    """On Trio's virtual clock: the runs happen exactly at 0, 10, 20 and 30 s."""
    runs: list[float] = []

    async def flaky() -> None:
        runs.append(trio.current_time())
        if len(runs) == 1:
            raise RuntimeError("disk hiccup")

    start = trio.current_time()
    with trio.move_on_after(35):
        async with trio.open_nursery() as nursery:
            await nursery.start(run_periodic, [PeriodicTask("flaky", 10, flaky)])
    assert [run - start for run in runs] == pytest.approx([0, 10, 20, 30])
    failures = [r for r in caplog.records if "periodic task flaky failed" in r.getMessage()]
    assert [r.levelno for r in failures] == [logging.ERROR]


async def test_first_signal_shuts_down_and_second_exits_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    shutdown = trio.Event()
    exited = trio.Event()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            await nursery.start(watch_signals, shutdown, exited.set)
            os.kill(os.getpid(), signal.SIGTERM)
            await shutdown.wait()
            assert not exited.is_set()
            os.kill(os.getpid(), signal.SIGINT)
            await exited.wait()
    assert "exiting at once" in caplog.text
