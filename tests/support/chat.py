"""Helpers for the chat tests: the server on either backend, users, conversations, messages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support import require_postgres
from tests.support.accounts import FAST, bearer, register
from tests.support.postgres import postgres_schema
from tests.support.server import RunningServer, make_settings
from veza.accounts import Principal
from veza.config import Settings
from veza.store import Store
from veza.store.database import Database
from veza.store.migrations import migrate
from veza.store.sqlite import open_sqlite

BACKENDS = ["sqlite", "postgresql"]
# Generous chat limits, except where a test is about them.
CHAT_FAST: dict[str, Any] = {**FAST, "chat_send_burst": 10_000}


@asynccontextmanager
async def backend_settings(
    tmp_path: Path, backend: str, **overrides: Any
) -> AsyncIterator[Settings]:
    """Settings for a fresh SQLite file or a fresh PostgreSQL schema (dropped afterwards)."""
    options = {**CHAT_FAST, **overrides}
    if backend == "sqlite":
        yield make_settings(tmp_path / "data", **options)
        return
    url = require_postgres()
    async with postgres_schema(url) as database:
        row = await database.fetch_one("SELECT current_schema() AS s")
        assert row is not None
        yield make_settings(
            tmp_path / "data", database_url=f"{url}?search_path={row['s']}", **options
        )


@dataclass
class User:
    id: str
    token: str
    name: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


async def user(client: httpx.AsyncClient, name: str) -> User:
    body = await register(client, name)
    return User(body["user"]["id"], body["access_token"], name)


async def make_role(server: RunningServer, who: User, role: str) -> User:
    """Give a role (the repository sets it: the admin API is tested elsewhere); the token
    carries no role, so it stays valid."""
    await server.store.accounts.set_role(who.id, role, 0.0)
    return who


async def open_conversation(
    client: httpx.AsyncClient,
    who: User,
    kind: str,
    members: list[User],
    title: str | None = None,
    status: int = 201,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"kind": kind, "member_ids": [m.id for m in members]}
    if title is not None:
        payload["title"] = title
    response = await client.post("/api/v1/conversations", json=payload, headers=who.headers)
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def send(
    client: httpx.AsyncClient,
    who: User,
    conversation_id: str,
    body: str,
    client_id: str | None = None,
) -> httpx.Response:
    payload = {"body": body} if client_id is None else {"body": body, "client_id": client_id}
    return await client.post(
        f"/api/v1/conversations/{conversation_id}/messages", json=payload, headers=who.headers
    )


async def posted(
    client: httpx.AsyncClient, who: User, conversation_id: str, body: str
) -> dict[str, Any]:
    response = await send(client, who, conversation_id, body)
    assert response.status_code == 201, response.text
    message: dict[str, Any] = response.json()
    return message


@asynccontextmanager
async def stores(backend: str, tmp_path: Path, count: int) -> AsyncIterator[list[Store]]:
    """`count` Store instances on one database: one SQLite file, or one PostgreSQL schema with
    a pool per Store (what separate processes would have)."""
    if backend == "sqlite":
        async with open_sqlite(tmp_path / "chat.db", readers=2) as database:
            await migrate(database)
            yield [Store(database)] * count
        return
    from veza.store.postgres import open_postgres

    url = require_postgres()
    async with postgres_schema(url) as first:
        row = await first.fetch_one("SELECT current_schema() AS s")
        assert row is not None
        await migrate(first)
        async with open_postgres(url, search_path=row["s"]) as second:
            pools: list[Database] = [first, second]
            yield [Store(pools[n % 2]) for n in range(count)]


async def principals(store: Store, count: int) -> list[Principal]:
    found = []
    for n in range(count):
        user_id = f"{n + 1:032x}"
        await store.accounts.insert_user(
            id=user_id,
            username=f"user{n}",
            username_key=f"user{n}",
            email=f"user{n}@example.org",
            email_key=f"user{n}@example.org",
            password_hash="$argon2id$placeholder",
            role="user",
            now=1.0,
        )
        user = await store.accounts.user(user_id)
        assert user is not None
        found.append(Principal(user, session_id="s"))
    return found
