"""Process signals: the first SIGINT/SIGTERM asks for a graceful shutdown, a second one exits."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable

import trio

log = logging.getLogger(__name__)


def _exit_now() -> None:
    os._exit(1)


async def watch_signals(
    shutdown: trio.Event,
    exit_now: Callable[[], object] = _exit_now,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """First SIGINT/SIGTERM sets `shutdown`; a second one calls `exit_now`."""
    # Installed explicitly: a process started in the background inherits SIGINT as ignored.
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for signum in signals:
            if shutdown.is_set():
                log.warning("second %s: exiting at once", signal.Signals(signum).name)
                exit_now()
                return
            log.info("%s: shutting down gracefully", signal.Signals(signum).name)
            shutdown.set()
