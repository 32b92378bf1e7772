"""The process tree of `veza serve`: the store, then the services that use it, then shutdown.

root nursery
├── store              (opened first, closed last)
└── services nursery
    ├── signals        (first SIGINT/SIGTERM: graceful shutdown; second: exit at once)
    ├── event relay    (PostgreSQL only: LISTEN task + NOTIFY sender, veza/events/postgres_relay.py)
    ├── periodic tasks
    ├── job workers    (each job in its own nursery: FFmpeg children, segment writer)
    ├── reset mailer   (works off password-reset requests)
    └── http           (Hypercorn; stops accepting on shutdown, then the rest is cancelled)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.config import Sockets
from hypercorn.trio.run import worker_serve
from hypercorn.utils import wrap_app
from quart_trio import QuartTrio

from veza.app import build_services, create_app, periodic_tasks
from veza.config import Settings, ensure_secret
from veza.nursery.periodic import run_periodic
from veza.nursery.signals import watch_signals
from veza.services import Services
from veza.store import Store, database_runtime, open_store
from veza.store.migrations import SchemaTooNew
from veza.transport.http import edge_connections
from veza.transport.ws import websocket_hub

log = logging.getLogger(__name__)


async def _hold_store(settings: Settings, *, task_status: trio.TaskStatus[Store]) -> None:
    try:
        async with open_store(settings) as store:
            task_status.started(store)
            await trio.sleep_forever()
    except SchemaTooNew as error:
        raise StartupFailed(str(error)) from None


def hypercorn_config(settings: Settings) -> HypercornConfig:
    config = HypercornConfig()
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    config.bind = [f"{host}:{settings.port}"]
    config.graceful_timeout = settings.shutdown_grace_seconds
    # Every bound explicit, from our settings rather than Hypercorn's defaults.
    config.read_timeout = settings.http_read_timeout_seconds
    config.keep_alive_timeout = settings.http_keep_alive_timeout_seconds
    config.h11_max_incomplete_size = settings.http_max_header_bytes
    config.h2_max_header_list_size = settings.http_max_header_bytes
    config.max_app_queue_size = settings.http_app_queue_size
    config.websocket_max_message_size = settings.websocket_max_message_bytes
    config.backlog = settings.http_listen_backlog  # Hypercorn's 100 overflows under a burst
    config.accesslog = None
    # Through our logging set-up (text or JSON lines) rather than Hypercorn's own stderr handler.
    config.errorlog = logging.getLogger("hypercorn.error")
    return config


@dataclass(frozen=True)
class Running:
    """What a started Veza hands its owner: where it listens and what it serves."""

    urls: list[str]
    app: QuartTrio
    services: Services
    store: Store
    secret: str


class StartupFailed(Exception):
    """Veza cannot start (the port is taken, say); the message is one line for the operator."""


def _listen(config: HypercornConfig, settings: Settings) -> Sockets:
    """Bind the listening sockets first, so a port in use stops start-up with one clear line
    before anything else is opened."""
    try:
        sockets = config.create_sockets()
        for sock in sockets.insecure_sockets:
            sock.listen(config.backlog)
    except OSError as error:
        address = f"{settings.host}:{settings.port}"
        raise StartupFailed(f"cannot listen on {address}: {error.strerror}") from None
    return sockets


async def _serve_http(
    app: QuartTrio,
    config: HypercornConfig,
    sockets: Sockets,
    shutdown: trio.Event,
    on_stopped: Callable[[], object],
    *,
    task_status: trio.TaskStatus[list[str]],
) -> None:
    # Hypercorn's own `serve`, given the sockets we bound (its `serve` always binds anew).
    wrapped = wrap_app(app, config.wsgi_max_body_size, None)
    await worker_serve(
        wrapped, config, sockets=sockets, shutdown_trigger=shutdown.wait, task_status=task_status
    )
    on_stopped()


async def run_veza(
    settings: Settings,
    shutdown: trio.Event,
    *,
    handle_signals: bool = False,
    clock: Callable[[], float] = time.time,
    task_status: trio.TaskStatus[Running] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run Veza until `shutdown` is set (or a signal arrives); report the bound URLs once ready.
    Every service reads the time from `clock`. Raises StartupFailed when it cannot listen."""
    config = hypercorn_config(settings)
    edge_connections(config, settings)
    sockets = _listen(config, settings)
    try:
        await _run(settings, config, sockets, shutdown, handle_signals, clock, task_status)
    finally:
        for sock in sockets.insecure_sockets:
            sock.close()  # already closed when Hypercorn served them; not if start-up failed


async def _run(
    settings: Settings,
    config: HypercornConfig,
    sockets: Sockets,
    shutdown: trio.Event,
    handle_signals: bool,
    clock: Callable[[], float],
    task_status: trio.TaskStatus[Running],
) -> None:
    secret = await trio.to_thread.run_sync(ensure_secret, settings)
    async with database_runtime(settings), trio.open_nursery() as root:
        store = await root.start(_hold_store, settings)
        services = build_services(settings, store, secret, clock)
        await services.tracks.prepare()
        await services.tracks.requeue_other_ladders()
        async with trio.open_nursery() as nursery:
            if handle_signals:
                await nursery.start(watch_signals, shutdown)
            if services.relay is not None:
                await nursery.start(services.relay.run, services.events)
            await nursery.start(run_periodic, periodic_tasks(services))
            await nursery.start(services.workers.run)
            await nursery.start(services.password_resets.run)
            app = create_app(services)
            # Closes every socket with 1001 once shutdown begins, before Hypercorn cuts them.
            await nursery.start(websocket_hub(app).run, shutdown)
            urls = await nursery.start(
                _serve_http, app, config, sockets, shutdown, nursery.cancel_scope.cancel
            )
            log.info("listening on %s; data in %s", " ".join(urls), settings.data_dir.resolve())
            task_status.started(Running(urls, app, services, store, secret))
        root.cancel_scope.cancel()
    log.info("stopped")
