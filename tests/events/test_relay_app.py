"""Veza on PostgreSQL, end to end: a track's events reach a subscriber in another process.

The subscriber is a bus with its relay in the test process; the track is queued first (as
`veza import` does) and the server(s) that transcode it start only once the subscription is
open, so no event can come before it.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
import trio

from tests.support import require_postgres, require_tool
from tests.support.postgres import postgres_schema
from tests.support.process import ServeProcess
from tests.support.process import run_veza as veza_cli
from tests.support.server import RunningServer, make_settings, serving
from tests.support.tracks import write_music
from veza.app import build_services
from veza.events import Event, EventBus, Subscription, SubscriptionLagged, topic
from veza.events.postgres_relay import PostgresRelay
from veza.serve import run_veza
from veza.store import open_store
from veza.store.database import Database
from veza.tracks.events import TrackProgress, TrackReady, track_topic


@asynccontextmanager
async def shared_database() -> AsyncIterator[tuple[Database, str]]:
    url = require_postgres()
    async with postgres_schema(url) as database:
        row = await database.fetch_one("SELECT current_schema() AS schema")
        assert row is not None
        yield database, f"{url}?search_path={row['schema']}"


@asynccontextmanager
async def other_process(database: Database, url: str) -> AsyncIterator[EventBus]:
    """A bus in "another process": its own relay, LISTEN connection and process id."""
    from veza.store.notify import (
        PostgresNotifications,
    )  # late: trio-asyncio must not load at collection

    relay = PostgresRelay(PostgresNotifications(database, url, application_name="veza test"))
    bus = EventBus(relay=relay)
    async with trio.open_nursery() as nursery:
        await nursery.start(relay.run, bus)
        yield bus
        nursery.cancel_scope.cancel()


async def until_ready(subscription: Subscription) -> list[str]:
    """The types of the events received up to `track.ready`."""
    seen: list[str] = []
    with trio.fail_after(90):
        async for delivery in subscription:
            seen.append(delivery.event.type)
            if isinstance(delivery.event, TrackReady):
                return seen
            assert isinstance(delivery.event, TrackProgress), delivery
    raise AssertionError("the subscription ended")


@dataclass(frozen=True)
class Pulse(Event):
    type: ClassVar[str] = "test.app.pulse"
    n: int


@pytest.mark.slow
async def test_two_servers_are_one_bus_across_a_dropped_listen_connection(tmp_path: Path) -> None:
    async with shared_database() as (database, url):
        shutdown = trio.Event()
        async with trio.open_nursery() as nursery:
            a, b = [
                await nursery.start(
                    partial(run_veza, make_settings(tmp_path / name, database_url=url), shutdown)
                )
                for name in ("a", "b")
            ]
            assert a.services.relay is not None and b.services.relay is not None
            name = f"veza events %{b.services.relay.process_id}"
            pulses = topic("user", "u1")
            async with b.services.events.subscribe(pulses) as on_b:
                a.services.events.publish(pulses, Pulse(1))
                with trio.fail_after(10):
                    assert (await on_b.receive()).event == Pulse(1)
                rows = await database.fetch_all(
                    "SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity"
                    " WHERE application_name LIKE ?",
                    (name,),
                )
                assert [row["done"] for row in rows] == [True]
                with trio.fail_after(10), pytest.raises(SubscriptionLagged):
                    await on_b.receive()
            async with b.services.events.subscribe(pulses) as on_b:
                a.services.events.publish(pulses, Pulse(2))
                with trio.fail_after(10):
                    assert (await on_b.receive()).event == Pulse(2)
                async with httpx.AsyncClient(base_url=b.urls[0]) as client:
                    metrics = (await client.get("/metrics")).text
            shutdown.set()
    assert sample(metrics, 'veza_event_relay{what="resyncs"}') == 1
    assert sample(metrics, 'veza_event_relay{what="lost"}') == 0
    # Every subscription of b was dropped once: ours, and those the hub holds.
    assert sample(metrics, 'veza_events{what="dropped"}') >= 1


def sample(metrics: str, name: str) -> float:
    (line,) = [line for line in metrics.splitlines() if line.startswith(name + " ")]
    return float(line.split()[-1])


async def test_one_process_on_sqlite_has_a_bus_and_no_relay(server: RunningServer) -> None:
    assert server.services.relay is None
    name = 'veza_events{what="subscriptions"}'
    before = sample((await server.client.get("/metrics")).text, name)
    async with server.services.events.subscribe(topic("user", "u1")):
        metrics = (await server.client.get("/metrics")).text
    assert sample(metrics, name) == before + 1
    assert "veza_event_relay{" not in metrics


@pytest.mark.slow
async def test_a_track_transcoded_by_the_server_is_ready_for_a_subscriber_elsewhere(
    tmp_path: Path,
) -> None:
    require_tool("ffmpeg")
    async with shared_database() as (database, url), other_process(database, url) as bus:
        settings = make_settings(tmp_path / "data", database_url=url, job_workers=1)
        async with open_store(settings) as store:  # what `veza import` does: queue, no worker
            queued = build_services(settings, store, secret="").tracks
            track = await queued.import_file(write_music(tmp_path / "song.wav", 4))
        subscription = bus.subscribe(track_topic(track.id))
        async with subscription, serving(settings) as server:
            assert server.services.relay is not None
            seen = await until_ready(subscription)
            row = await database.fetch_one("SELECT status FROM tracks WHERE id = ?", (track.id,))
            assert row == {"status": "ready"}  # committed before it was published
    assert seen[-1] == "track.ready"
    assert "track.progress" in seen


@pytest.mark.slow
async def test_two_veza_serve_processes_and_a_third_share_one_hub(tmp_path: Path) -> None:
    require_tool("ffmpeg")
    data = tmp_path / "shared"
    async with shared_database() as (database, url), other_process(database, url) as bus:
        env = {"VEZA_DATABASE_URL": url, "VEZA_JOB_WORKERS": "1"}
        source = write_music(tmp_path / "song.wav", 4)
        imported = await trio.to_thread.run_sync(
            partial(veza_cli, "import", "--data-dir", str(data), str(source), **env)
        )
        assert imported.returncode == 0, imported.stderr
        track_id = imported.stdout.split()[0]
        servers: list[ServeProcess] = []
        try:
            async with bus.subscribe(track_topic(track_id)) as subscription:
                start = partial(ServeProcess, data, **env)
                for _ in range(2):
                    servers.append(await trio.to_thread.run_sync(start))
                # Whichever of the two ran the job, its events crossed to this process.
                assert (await until_ready(subscription))[-1] == "track.ready"
            for server in servers:
                code, _ = await trio.to_thread.run_sync(server.stop, signal.SIGTERM)
                assert code == 0, server.log()
                assert "Traceback" not in server.log()
        finally:
            for server in servers:
                server.kill()
