"""A connection whose request body was not read to its end cannot carry another request: the
answer closes it (Connection: close), so the client's next request is never left hanging and the
server keeps no socket. Over raw sockets against the real server."""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx
import pytest
import trio
from werkzeug.exceptions import RequestTimeout

from tests.support.accounts import fast_settings, register
from tests.support.raw_http import (
    BOUNDARY,
    Reader,
    connect,
    file_part,
    open_descriptors,
    request_head,
    send_or_closed,
    upload_head,
)
from tests.support.server import RunningServer, serving
from tests.support.tracks import write_music
from veza import errors
from veza.config import Settings

KiB = 1024
HEALTH = request_head("GET", "/health")
UPLOAD = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}  # under the upload limit


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path)


async def refused_upload_then_next_request(
    server: RunningServer, body: bytes, how: str, outcomes: list[str]
) -> None:
    """An upload with a bad token, its body sent as `how` says, then a second request on the
    same connection: the second is answered, or finds the connection closed. Never a hang."""
    with trio.fail_after(15):
        async with await connect(server) as stream:
            head = upload_head("not-a-token", len(body))
            reader = Reader(stream)
            if how == "whole, before the answer":
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(send_or_closed, stream, head + body)
                    answer = await reader.response()
            else:
                sent = body[: len(body) // 4] if how == "in part" else b""
                await send_or_closed(stream, head + sent)  # the answer may come first
                answer = await reader.response()
                if how == "after the answer":
                    await send_or_closed(stream, body)
            assert answer is not None and answer.status == 401, answer
            assert answer.closes, answer.headers
            if not await send_or_closed(stream, HEALTH):
                outcomes.append("closed")
                return
            second = await reader.response()
            outcomes.append("closed" if second is None else f"answered {second.status}")


@pytest.mark.slow
async def test_every_request_after_a_refused_upload_is_answered_or_closed_and_no_socket_is_kept(
    server: RunningServer,
) -> None:
    await register(server.client, "ada")  # the store and the app warmed up
    await server.client.get("/health")
    before = open_descriptors()
    body = file_part(b"\x00" * (2048 * KiB))  # more than the app's read-ahead and queue hold
    ways = ["in part", "after the answer", "whole, before the answer"]
    outcomes: list[str] = []
    limiter = trio.CapacityLimiter(50)

    async def one(index: int) -> None:
        async with limiter:
            await refused_upload_then_next_request(server, body, ways[index % 3], outcomes)

    async with trio.open_nursery() as nursery:
        for index in range(300):
            nursery.start_soon(one, index)
    assert len(outcomes) == 300
    assert set(outcomes) <= {"closed", "answered 200"}, set(outcomes)

    async def released() -> bool:
        return open_descriptors() <= before + 3

    with trio.move_on_after(10):
        while not await released():  # noqa: ASYNC110 - the server's sockets close on its side
            await trio.sleep(0.05)
    assert open_descriptors() <= before + 3, (before, open_descriptors())


@pytest.mark.slow
async def test_a_refusal_that_comes_once_the_body_fills_every_buffer_still_closes(
    server: RunningServer,
) -> None:
    """The body has filled what the app reads ahead and the server's queue to the app by the
    time the answer goes out: the rest must be dropped for the server to finish the exchange."""

    async def refuses_slowly() -> str:
        await trio.sleep(0.3)
        raise errors.Forbidden("not this")

    server.app.add_url_rule("/test/refuses", "refuses", refuses_slowly, methods=["POST"])
    await server.client.get("/health")
    before = open_descriptors()
    body = file_part(b"\x00" * (4096 * KiB))
    for _ in range(10):
        async with await connect(server) as stream:
            reader = Reader(stream)
            with trio.fail_after(10):
                async with trio.open_nursery() as nursery:
                    head = request_head("POST", "/test/refuses", UPLOAD, len(body))
                    nursery.start_soon(send_or_closed, stream, head + body)
                    answer = await reader.response()
                    assert answer is not None and answer.status == 403 and answer.closes
                    await reader.until_closed()
    with trio.move_on_after(5):
        while open_descriptors() > before + 3:  # noqa: ASYNC110 - closed on the server's side
            await trio.sleep(0.05)
    assert open_descriptors() <= before + 3, (before, open_descriptors())


@pytest.mark.slow
async def test_a_body_the_route_never_reads_closes_the_connection(server: RunningServer) -> None:
    async with await connect(server) as stream:
        # /health takes no body; this one is announced longer than what is sent.
        await stream.send_all(request_head("GET", "/health", length=100_000) + b"x" * 1000)
        reader = Reader(stream)
        with trio.fail_after(5):
            answer = await reader.response()
            assert answer is not None and answer.status == 200
            assert answer.closes
            await reader.until_closed()


async def test_a_request_read_whole_keeps_its_connection(server: RunningServer) -> None:
    token = (await register(server.client, "bob"))["access_token"]
    async with await connect(server) as stream:
        reader = Reader(stream)
        with trio.fail_after(5):
            for _ in range(3):
                await stream.send_all(HEALTH)
                answer = await reader.response()
                assert answer is not None and answer.status == 200 and not answer.closes
            login = b'{"login": "bob", "password": "wrong password"}'
            await stream.send_all(
                request_head(
                    "POST", "/api/v1/auth/login", {"Content-Type": "application/json"}, len(login)
                )
                + login
            )
            answer = await reader.response()
            assert answer is not None and answer.status == 401 and not answer.closes
            await stream.send_all(
                request_head("GET", "/api/v1/me", {"Authorization": f"Bearer {token}"})
            )
            answer = await reader.response()
            assert answer is not None and answer.status == 200 and not answer.closes


async def test_any_408_closes_the_connection(server: RunningServer) -> None:
    async def gives_up() -> str:
        raise RequestTimeout()

    server.app.add_url_rule("/test/gives-up", "gives_up", gives_up)
    async with await connect(server) as stream:
        await stream.send_all(request_head("GET", "/test/gives-up"))
        reader = Reader(stream)
        with trio.fail_after(5):
            answer = await reader.response()
            assert answer is not None and answer.status == 408
            assert answer.closes
            await reader.until_closed()


@pytest.mark.slow
async def test_a_body_below_the_minimum_rate_is_408_and_closed_and_a_slow_large_one_is_taken(
    tmp_path: Path,
) -> None:
    """The body deadline is the read timeout plus the body's size at the minimum rate: here
    1 s + 2 s for 190 KiB, against 1 s + 11 s for 1 MiB. A fixed deadline cannot refuse the
    first (at about 3 s) and take the second (over 5 s)."""
    settings = fast_settings(
        tmp_path, http_read_timeout_seconds=1, http_min_body_rate_bytes=100 * KiB
    )
    async with serving(settings) as server:
        token = (await register(server.client, "cyd"))["access_token"]

        async def paced(stream: trio.SocketStream, data: bytes, step: int, pause: float) -> None:
            for start in range(0, len(data), step):
                if not await send_or_closed(stream, data[start : start + step]):
                    return
                await trio.sleep(pause)

        trickle = file_part(b"\x00" * (190 * KiB))
        async with await connect(server) as stream:
            reader = Reader(stream)
            started = trio.current_time()
            with trio.fail_after(8):
                async with trio.open_nursery() as nursery:
                    await stream.send_all(upload_head(token, len(trickle)))
                    nursery.start_soon(paced, stream, trickle, KiB, 0.2)  # 5 KiB/s, never idle
                    answer = await reader.response()
                    nursery.cancel_scope.cancel()
                assert answer is not None and answer.status == 408, answer
                assert answer.closes
                assert 2.5 < trio.current_time() - started < 4.5
                assert not await send_or_closed(stream, HEALTH) or await reader.response() is None

        music = write_music(tmp_path / "six.wav", 6).read_bytes()  # about 1 MiB
        steady = file_part(music)
        async with await connect(server) as stream:
            reader = Reader(stream)
            started = trio.current_time()
            with trio.fail_after(20):
                await stream.send_all(upload_head(token, len(steady)))
                await paced(stream, steady, 20 * KiB, 0.1)  # about 200 KiB/s
                answer = await reader.response()
            assert answer is not None and answer.status == 202, answer
            assert trio.current_time() - started > 5


async def test_a_path_not_utf8_gets_the_error_shape_when_percent_encoded(
    server: RunningServer,
) -> None:
    """Percent-encoded bytes that are not UTF-8 reach the app (404 in our shape). Raw bytes
    outside ASCII are refused by the HTTP parser below the app (h11: 400 with an empty body and
    the connection closed), which is what the RFC asks of a request-target that is not ASCII."""
    async with await connect(server) as stream:
        await stream.send_all(request_head("GET", "/api/tracks/%ff%fe"))
        answer = await Reader(stream).response()
    assert answer is not None and answer.status == 404
    assert b'"code":"not_found"' in answer.body
    async with await connect(server) as stream:
        await stream.send_all(b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: test\r\n\r\n")
        reader = Reader(stream)
        with trio.fail_after(5):
            answer = await reader.response()
            assert answer is not None and answer.status == 400 and answer.closes
            await reader.until_closed()


async def test_an_http2_client_sending_a_body_after_the_answer_does_not_stop_the_server(
    server: RunningServer,
) -> None:
    """HTTP/2 with prior knowledge: data for a stream the server has already answered made
    Hypercorn 0.18 raise KeyError, which took the whole server down."""
    upload = {"Authorization": "Bearer nope", **UPLOAD}
    async with httpx.AsyncClient(base_url=server.url, http1=False, http2=True) as h2:
        assert (await h2.get("/health")).http_version == "HTTP/2"
        for _ in range(3):
            with contextlib.suppress(httpx.TransportError):  # the connection may end early
                await h2.post("/api/v1/tracks", content=b"\x00" * (300 * KiB), headers=upload)
    with trio.fail_after(5):
        assert (await server.client.get("/health")).status_code == 200
