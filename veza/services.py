"""The domain services the edges call: one object per noun, built once per process by the
composition root (veza/app.py). Routes reach these, never the store."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from veza.accounts import Accounts
from veza.accounts.resets import PasswordResets
from veza.chat import Chat
from veza.config import Settings
from veza.events import EventBus
from veza.events.postgres_relay import PostgresRelay
from veza.nursery.jobs import Workers
from veza.playlists import Playlists
from veza.store import Store
from veza.tracks import Tracks
from veza.tracks.albums import Albums
from veza.tracks.integrity import MediaCheck
from veza.tracks.quota import Quotas
from veza.tracks.scan import Scans
from veza.tracks.stats import Stats


class Health:
    """What a readiness probe asks: can the database answer, and how big is the job queue."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.started_at = time.monotonic()

    async def check_database(self) -> None:
        """Raise Unavailable naming the part that failed."""
        await self._store.check()

    async def job_counts(self) -> dict[str, int]:
        """Jobs by status; read each time: the queue may be shared with other processes."""
        return await self._store.jobs.counts()

    def uptime_s(self) -> float:
        return time.monotonic() - self.started_at


@dataclass
class Services:
    settings: Settings
    accounts: Accounts
    password_resets: PasswordResets
    tracks: Tracks
    albums: Albums  # albums and artists, derived from the tracks' tags
    playlists: Playlists
    workers: Workers
    events: EventBus
    chat: Chat
    # The library: music folders, storage, listening stats, the media check.
    scans: Scans
    quotas: Quotas
    stats: Stats
    media_check: MediaCheck
    health: Health = field(repr=False)
    # With PostgreSQL, carries the bus's events to and from the other processes (serve starts it).
    relay: PostgresRelay | None = field(default=None, repr=False)
    # Wall-clock seconds, read by every service and the edge's rate limits: one clock, so tests
    # can move time for all of them at once.
    clock: Callable[[], float] = field(default=time.time, repr=False)
