"""Lifetimes: graceful shutdown of in-flight work, periodic tasks, the second signal."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import httpx
import pytest
import trio

from tests.support.server import make_settings
from veza.nursery.periodic import PeriodicTask, run_periodic
from veza.nursery.signals import watch_signals
from veza.serve import run_veza


async def test_shutdown_lets_a_short_request_finish_and_cancels_a_stuck_one(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, shutdown_grace_seconds=0.5)
    shutdown = trio.Event()
    statuses: dict[str, int | str] = {}
    async with trio.open_nursery() as nursery:
        running = await nursery.start(run_veza, settings, shutdown)

        arrived = {"short": trio.Event(), "stuck": trio.Event()}

        async def short() -> str:
            arrived["short"].set()
            await trio.sleep(0.2)
            return "finished"

        async def stuck() -> str:
            arrived["stuck"].set()
            await trio.sleep_forever()
            return "never"

        running.app.add_url_rule("/test/short", "short", short)
        running.app.add_url_rule("/test/stuck", "stuck", stuck)

        async def call(name: str) -> None:
            async with httpx.AsyncClient(base_url=running.urls[0], timeout=5) as client:
                try:
                    statuses[name] = (await client.get(f"/test/{name}")).status_code
                except httpx.HTTPError as error:
                    statuses[name] = type(error).__name__

        async def stop_once_both_arrived() -> None:
            for event in arrived.values():
                await event.wait()
            shutdown.set()

        nursery.start_soon(call, "short")
        nursery.start_soon(call, "stuck")
        with trio.fail_after(5):
            await stop_once_both_arrived()
    assert statuses["short"] == 200
    assert statuses["stuck"] != 200


async def test_run_veza_returns_within_the_grace_period(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, shutdown_grace_seconds=0.5)
    shutdown = trio.Event()
    arrived = trio.Event()
    outcome: list[BaseException] = []
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
    # The request was in flight (it reached the handler) and was cut off by the grace period,
    # not refused at connect time.
    assert len(outcome) == 1
    assert not isinstance(outcome[0], httpx.ConnectError)


async def test_a_failing_periodic_task_is_logged_and_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs: list[float] = []

    async def flaky() -> None:
        runs.append(trio.current_time())
        if len(runs) == 1:
            raise RuntimeError("disk hiccup")

    with trio.move_on_after(0.35):
        async with trio.open_nursery() as nursery:
            await nursery.start(run_periodic, [PeriodicTask("flaky", 0.1, flaky)])
    assert len(runs) >= 3
    assert any("periodic task flaky failed" in r.getMessage() for r in caplog.records)
    assert caplog.records[0].levelno == logging.ERROR


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
