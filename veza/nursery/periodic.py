"""Tasks that run every N seconds for the life of the process; a failing run is logged and
tried again next period, never fatal."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    interval_s: float
    run: Callable[[], Awaitable[object]]


async def _repeat(task: PeriodicTask) -> None:
    while True:
        try:
            await task.run()
        except Exception:
            log.exception("periodic task %s failed; retrying in %.0fs", task.name, task.interval_s)
        await trio.sleep(task.interval_s)


async def run_periodic(
    tasks: list[PeriodicTask], *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Run every task once now and then every period, until cancelled."""
    async with trio.open_nursery() as nursery:
        for task in tasks:
            nursery.start_soon(_repeat, task, name=f"periodic:{task.name}")
        task_status.started()
        await trio.sleep_forever()
