"""Concurrent senders over real HTTP: four clients sending 25 messages each at once get
sequence numbers 1..100 without a gap or a duplicate, on SQLite, on PostgreSQL, and with two
servers sharing one PostgreSQL database (two processes); read receipts sent at once through
both servers only move forward."""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import pytest
import trio

from tests.support.chat import BACKENDS, User, backend_settings, open_conversation, send, user
from tests.support.server import serving

pytestmark = pytest.mark.slow

SENDERS = 4
EACH = 25


async def send_all(clients: list[httpx.AsyncClient], users: list[User], cid: str) -> list[int]:
    seqs: list[int] = []

    async def sender(n: int) -> None:
        client = clients[n % len(clients)]
        mine = []
        for i in range(EACH):
            response = await send(client, users[n], cid, f"{n}:{i}", client_id=f"{n}-{i}")
            assert response.status_code == 201, response.text
            mine.append(response.json()["seq"])
        assert mine == sorted(mine)
        seqs.extend(mine)

    async with trio.open_nursery() as nursery:
        for n in range(SENDERS):
            nursery.start_soon(sender, n)
    return sorted(seqs)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_concurrent_senders_over_http(tmp_path: Path, backend: str) -> None:
    async with backend_settings(tmp_path, backend) as settings, serving(settings) as server:
        users = [await user(server.client, f"sender{n}") for n in range(SENDERS)]
        cid = (await open_conversation(server.client, users[0], "group", users[1:]))["id"]
        assert await send_all([server.client], users, cid) == list(range(1, SENDERS * EACH + 1))


async def test_two_servers_on_one_postgres_number_messages_as_one(tmp_path: Path) -> None:
    async with (
        backend_settings(tmp_path, "postgresql") as settings,
        serving(settings) as a,
        serving(settings) as b,
    ):
        users = [await user(a.client, f"sender{n}") for n in range(SENDERS)]
        cid = (await open_conversation(b.client, users[0], "group", users[1:]))["id"]
        seqs = await send_all([a.client, b.client], users, cid)
        assert seqs == list(range(1, SENDERS * EACH + 1))
        # Each server reads what the other wrote; a retry through the other server is a retry.
        retry = await send(b.client, users[0], cid, "0:0", client_id="0-0")
        assert retry.status_code == 200
        page = await a.client.get(
            f"/api/v1/conversations/{cid}/messages", params={"limit": 100}, headers=users[1].headers
        )
        assert [m["seq"] for m in page.json()["items"]] == list(range(100, 0, -1))

        # Read marks from one user through both servers at once, in a shuffled order.
        reader = users[1]
        marks = list(range(1, 101))
        random.Random(3).shuffle(marks)

        async def mark(client: httpx.AsyncClient, seqs: list[int]) -> None:
            for seq in seqs:
                response = await client.post(
                    f"/api/v1/conversations/{cid}/read", json={"seq": seq}, headers=reader.headers
                )
                assert response.status_code == 200, response.text
                assert response.json()["seq"] >= seq

        async with trio.open_nursery() as nursery:
            for n, client in enumerate([a.client, b.client, a.client, b.client]):
                nursery.start_soon(mark, client, marks[n::4])
        detail = await a.client.get(f"/api/v1/conversations/{cid}", headers=reader.headers)
        assert detail.json()["read_seq"] == 100
        assert detail.json()["unread_count"] == 0
