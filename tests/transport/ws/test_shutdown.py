"""SIGTERM to a real `veza serve`: every socket is closed with 1001, then the process exits 0."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from tests.support.accounts import bearer, register
from tests.support.process import ServeProcess

FAST_HASHING = {
    "VEZA_ARGON2_TIME_COST": "1",
    "VEZA_ARGON2_MEMORY_KIB": "1024",
    "VEZA_ARGON2_PARALLELISM": "1",
}


@pytest.mark.slow
async def test_sigterm_closes_every_socket_with_1001(tmp_path: Path) -> None:
    server = ServeProcess(tmp_path / "data", **FAST_HASHING)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            response = await client.post(
                "/api/v1/auth/register",
                json={"email": "una@example.org", "username": "una", "password": "a long one ok"},
            )
        token = response.json()["access_token"]
        url = server.url.replace("http://", "ws://") + "/ws"
        codes: list[int | None] = []

        async def hold(by_frame: bool) -> None:
            headers = [] if by_frame else [(b"authorization", f"Bearer {token}".encode())]
            async with open_websocket_url(url, extra_headers=headers) as socket:
                if by_frame:
                    await socket.send_message(f'{{"type": "auth", "token": "{token}"}}')
                assert '"ready"' in await socket.get_message()
                ready.append(True)
                if len(ready) == 4:
                    all_ready.set()
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        await socket.get_message()
                codes.append(closed.value.reason.code)

        ready: list[bool] = []
        all_ready = trio.Event()
        with trio.fail_after(15):
            async with trio.open_nursery() as nursery:
                for n in range(4):
                    nursery.start_soon(hold, n % 2 == 0)
                await all_ready.wait()
                server.process.send_signal(signal.SIGTERM)
        assert codes == [1001] * 4
        exit_code = await trio.to_thread.run_sync(lambda: server.process.wait(10))
        assert exit_code == 0, server.log()
    finally:
        server.kill()


@pytest.mark.slow
async def test_delivered_receipts_still_gathering_at_sigterm_are_written(tmp_path: Path) -> None:
    """A message reaches bob's socket; its delivered receipt would wait a minute to be written,
    but SIGTERM comes first: the mark is in the store when the server is back."""
    env = {**FAST_HASHING, "VEZA_WS_DELIVERED_FLUSH_SECONDS": "60"}
    server = ServeProcess(tmp_path / "data", **env)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            alice, bob = await register(client, "alice"), await register(client, "bob")
            response = await client.post(
                "/api/v1/conversations",
                json={"kind": "direct", "member_ids": [bob["user"]["id"]]},
                headers=bearer(alice["access_token"]),
            )
            chat = response.json()["id"]
            url = server.url.replace("http://", "ws://") + "/ws"
            headers = [(b"authorization", f"Bearer {bob['access_token']}".encode())]
            with trio.fail_after(15):
                async with open_websocket_url(url, extra_headers=headers) as socket:
                    assert '"ready"' in await socket.get_message()
                    response = await client.post(
                        f"/api/v1/conversations/{chat}/messages",
                        json={"body": "hi", "client_id": "c1"},
                        headers=bearer(alice["access_token"]),
                    )
                    assert response.status_code == 201, response.text
                    while '"message"' not in await socket.get_message():
                        pass
                    server.process.send_signal(signal.SIGTERM)
                    with pytest.raises(ConnectionClosed) as closed:
                        while True:
                            await socket.get_message()
                    assert closed.value.reason.code == 1001
        exit_code = await trio.to_thread.run_sync(lambda: server.process.wait(10))
        assert exit_code == 0, server.log()
    finally:
        server.kill()
    server = ServeProcess(tmp_path / "data", **env)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            response = await client.get(
                f"/api/v1/conversations/{chat}", headers=bearer(alice["access_token"])
            )
        marks = {m["user_id"]: m["delivered_seq"] for m in response.json()["members"]}
        assert marks[bob["user"]["id"]] == 1
    finally:
        server.kill()
