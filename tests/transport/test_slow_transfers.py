"""Responses take as long as the client needs: a download longer than any timeout goes to its
end, while a client that stops reading is disconnected. Raw sockets against the real server."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from quart import send_file

from tests.support.accounts import bearer, fast_settings, register
from tests.support.raw_http import Reader, connect, open_descriptors, request_head
from tests.support.server import serving
from tests.support.tracks import write_music

MiB = 1024 * 1024


@pytest.mark.slow
async def test_a_download_longer_than_the_read_timeout_goes_to_its_end(tmp_path: Path) -> None:
    settings = fast_settings(
        tmp_path,
        http_read_timeout_seconds=1,
        http_write_timeout_seconds=2,
        http_keep_alive_timeout_seconds=0.5,
    )
    async with serving(settings) as server:
        token = (await register(server.client, "ada"))["access_token"]
        music = write_music(tmp_path / "long.wav", 30)
        with music.open("rb") as file:
            uploaded = await server.client.post(
                "/api/v1/tracks", files={"file": ("long.wav", file)}, headers=bearer(token)
            )
        assert uploaded.status_code == 202, uploaded.text
        size = music.stat().st_size
        assert size > 5 * MiB
        original = f"/api/v1/tracks/{uploaded.json()['id']}/original"
        async with await connect(server) as stream:
            await stream.send_all(request_head("GET", original, bearer(token)))
            received = b""
            started = trio.current_time()
            with trio.fail_after(30):
                while b"\r\n\r\n" not in received or len(received.split(b"\r\n\r\n")[1]) < size:
                    chunk = await stream.receive_some(64 * 1024)  # about 2 MiB/s
                    if not chunk:
                        break
                    received += chunk
                    await trio.sleep(0.03)
            took = trio.current_time() - started
            head, body = received.split(b"\r\n\r\n", 1)
            assert head.startswith(b"HTTP/1.1 200"), head
            assert len(body) == size, f"{len(body)} of {size} bytes after {took:.1f} s"
            assert body == music.read_bytes()
            assert took > 2 * settings.http_read_timeout_seconds
            # The connection carries the next request, then is closed once idle.
            reader = Reader(stream)
            with trio.fail_after(5):
                await stream.send_all(request_head("GET", "/health"))
                answer = await reader.response()
                assert answer is not None and answer.status == 200
                await reader.until_closed()


@pytest.mark.slow
async def test_a_client_that_stops_reading_is_disconnected_after_the_write_timeout(
    tmp_path: Path,
) -> None:
    settings = fast_settings(tmp_path, http_read_timeout_seconds=30, http_write_timeout_seconds=1)
    big = tmp_path / "big.bin"
    with big.open("wb") as file:
        file.truncate(64 * MiB)  # more than the socket buffers of both ends hold
    async with serving(settings) as server:

        async def download() -> object:
            return await send_file(big)

        server.app.add_url_rule("/test/big", "big", download)
        await server.client.get("/health")
        before = open_descriptors()
        async with await connect(server) as stream:
            await stream.send_all(request_head("GET", "/test/big"))
            await trio.sleep(4)  # reading nothing
            with trio.fail_after(10):  # what the buffers held, then the end
                received = len(await Reader(stream).until_closed())
            assert 0 < received < 64 * MiB, received
        with trio.move_on_after(5):
            while open_descriptors() > before:  # noqa: ASYNC110 - the server's side closes
                await trio.sleep(0.05)
        assert open_descriptors() <= before, (before, open_descriptors())
