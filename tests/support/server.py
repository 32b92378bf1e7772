"""The real server for tests: on an ephemeral loopback port, with a fresh data dir."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import trio
from quart_trio import QuartTrio

from veza.config import Settings, load_settings
from veza.serve import Running, run_veza
from veza.services import Services
from veza.store import Store


@dataclass
class RunningServer:
    running: Running
    client: httpx.AsyncClient
    shutdown: trio.Event

    @property
    def url(self) -> str:
        return self.running.urls[0]

    @property
    def app(self) -> QuartTrio:
        """The live app: tests may add routes to it (a slow one, one that raises)."""
        return self.running.app

    @property
    def services(self) -> Services:
        return self.running.services

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def store(self) -> Store:
        """The server's store, for tests that look behind the API (routes never do)."""
        return self.running.store

    @property
    def secret(self) -> str:
        return self.running.secret


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test: defaults only (the developer's environment is ignored)."""
    return load_settings(None, environ={}, data_dir=data_dir, port=0, **overrides)


@asynccontextmanager
async def serving(
    settings: Settings, clock: Callable[[], float] = time.time
) -> AsyncIterator[RunningServer]:
    """The real server on a loopback port for the body of the block, then shut down. Every
    service reads the time from `clock` (a tests.support.clock.Clock to move time by hand)."""
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        running = await nursery.start(partial(run_veza, settings, shutdown, clock=clock))
        async with httpx.AsyncClient(base_url=running.urls[0], timeout=10) as client:
            yield RunningServer(running=running, client=client, shutdown=shutdown)
        shutdown.set()


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert body["error"]["request_id"] == response.headers["x-request-id"]
