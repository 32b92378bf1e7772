"""PostgreSQL LISTEN/NOTIFY for the event relay (veza/events/postgres_relay.py): NOTIFY through
the store's pool, LISTEN on a dedicated connection whose notifications cross into Trio.

The channel is `veza_events`, suffixed with the schema when it is not `public`: processes that
share a database and schema form one hub; other deployments in other schemas of the same
database do not hear each other.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import trio

from veza.store.database import Database, DatabaseError
from veza.store.postgres import (
    COMMAND_TIMEOUT_S,
    CONNECT_TIMEOUT_S,
    _call,
    _shielded,
)

log = logging.getLogger(__name__)

CHANNEL = "veza_events"
_MAX_IDENTIFIER = 63  # PostgreSQL's NAMEDATALEN - 1


def channel_for(schema: str) -> str:
    name = CHANNEL if schema == "public" else f"{CHANNEL}_{schema}"
    return name[:_MAX_IDENTIFIER]


class _Listening:
    def __init__(self, connection: Any, payloads: trio.MemoryReceiveChannel[str]) -> None:
        self._connection = connection
        self._payloads = payloads

    @property
    def payloads(self) -> trio.MemoryReceiveChannel[str]:
        return self._payloads

    async def ping(self) -> None:
        await _call(self._connection.fetchval, "SELECT 1")


class PostgresNotifications:
    """The events channel of one PostgreSQL database: `notify` through `database` (the
    store's pool), `listen` on a connection of its own to `url`, named `application_name` in
    `pg_stat_activity`."""

    def __init__(self, database: Database, url: str, *, application_name: str) -> None:
        self._database = database
        self._url = url
        self._application_name = application_name[:_MAX_IDENTIFIER]
        self._channel: str | None = None

    @property
    def application_name(self) -> str:
        return self._application_name

    async def channel(self) -> str:
        if self._channel is None:
            row = await self._database.fetch_one("SELECT current_schema() AS schema")
            self._channel = channel_for(str(row["schema"]) if row else "public")
        return self._channel

    async def notify(self, payloads: Sequence[str]) -> None:
        # One statement, so one transaction: delivered together, in the order of the array
        # (a function scan keeps it). Payloads are unique (numbered), so none is folded.
        await self._database.execute(
            "SELECT pg_notify(?, payload) FROM unnest(?::text[]) AS payload",
            (await self.channel(), list(payloads)),
        )

    @asynccontextmanager
    async def listen(self, size: int) -> AsyncIterator[_Listening]:
        channel = await self.channel()
        connection = await _call(
            functools.partial(
                asyncpg.connect,
                self._url,
                timeout=CONNECT_TIMEOUT_S,
                command_timeout=COMMAND_TIMEOUT_S,
                server_settings={"application_name": self._application_name},
            )
        )
        send, receive = trio.open_memory_channel[str](size)

        # asyncpg calls both from its loop (call_soon, in arrival order), in this thread.
        def on_notification(_connection: Any, _pid: int, _channel: str, payload: str) -> None:
            try:
                send.send_nowait(payload)
            except trio.WouldBlock:
                log.warning("more than %d notifications waiting; listening again", size)
                send.close()
            except trio.ClosedResourceError:
                pass

        def on_termination(_connection: Any) -> None:
            send.close()

        connection.add_termination_listener(on_termination)
        try:
            await _call(connection.add_listener, channel, on_notification)
            yield _Listening(connection, receive)
        finally:
            send.close()
            with _shielded() as deadline, contextlib.suppress(DatabaseError):
                await _call(connection.close)
            if deadline.cancelled_caught:
                connection.terminate()
