"""Uploads spooled to disk over real HTTP: the bytes arrive whole, the event loop keeps running
while a large upload is written, the body is read no faster than it is spooled, and an upload
that ends early leaves no file behind, open or not."""

from __future__ import annotations

import io
import json
import os
import struct
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest
import trio
from quart import request

from tests.support import eventually
from tests.support.accounts import bearer, fast_settings, register
from tests.support.server import RunningServer
from tests.support.tracks import write_music
from veza.config import Settings

MiB = 1024 * 1024
BOUNDARY = "spoolboundary"
# Bytes that look like the start of a boundary, so the parser must hold some back at the edges.
NEAR_BOUNDARY = f"\r\n--{BOUNDARY[:-1]}".encode()
# A WAV header of unknown length, as recorders that stream write it: any bytes after it are
# 16-bit stereo samples, so noise passes the check uploads get (it is audio, of a kind).
STREAMED_WAV = (
    b"RIFF\xff\xff\xff\xffWAVEfmt "
    + struct.pack("<IHHIIHH", 16, 1, 2, 44100, 44100 * 4, 4, 16)
    + b"data\xff\xff\xff\xff"
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path, max_upload_bytes=80 * MiB)


def part_head(filename: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


PART_TAIL = f"\r\n--{BOUNDARY}--\r\n".encode()


def multipart_headers(token: str, length: int | None = None) -> dict[str, str]:
    headers = {**bearer(token), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    if length is not None:  # otherwise httpx sends it chunked
        headers["Content-Length"] = str(length)
    return headers


async def pieces(data: bytes, sizes: list[int]) -> AsyncIterator[bytes]:
    """`data` in pieces of the given sizes, cycled: some tiny, some larger than any buffer."""
    start, index = 0, 0
    while start < len(data):
        size = sizes[index % len(sizes)]
        yield data[start : start + size]
        start, index = start + size, index + 1


def noise(size: int) -> bytes:
    return np.random.default_rng(3).integers(0, 256, size, dtype=np.uint8).tobytes()


def open_files_under(directory: Path) -> list[str]:
    """Files under `directory` that this process (server included) still holds open."""
    found = []
    for descriptor in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{descriptor}")
        except OSError:
            continue
        if target.startswith(str(directory)):
            found.append(target)
    return found


# The opens watched for: (thread, directory, where to note them). An audit hook cannot be
# removed, so one is installed on first use and looks here.
_OPEN_WATCHES: list[tuple[int, str, list[str]]] = []
_audit_installed = False


def _audit_opens(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and _OPEN_WATCHES:
        for thread, prefix, seen in _OPEN_WATCHES:
            if thread == threading.get_ident() and str(args[0]).startswith(prefix):
                seen.append(f"open {args[0]}")


_FILE_CALLS = {"write", "writelines", "flush", "seek", "truncate", "close", "__exit__"}


@contextmanager
def file_calls_on_this_thread(directory: Path) -> Iterator[list[str]]:
    """Collects the calls made on this thread (the event loop's: the server runs in the test's
    `trio.run`) that open a file under `directory`, or write, seek, flush or close one still
    open: the file system calls that would stall the loop on a slow disk."""
    global _audit_installed
    prefix, seen = str(directory), []

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event != "c_call" or getattr(arg, "__name__", None) not in _FILE_CALLS:
            return
        target = getattr(arg, "__self__", None)
        if isinstance(target, io.IOBase) and not target.closed:
            try:
                path = os.readlink(f"/proc/self/fd/{target.fileno()}")
            except (OSError, ValueError):
                return
            if path.startswith(prefix):
                seen.append(f"{arg.__name__} {path}")

    if not _audit_installed:
        sys.addaudithook(_audit_opens)
        _audit_installed = True
    watch = (threading.get_ident(), prefix, seen)
    _OPEN_WATCHES.append(watch)
    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield seen
    finally:
        sys.setprofile(previous)
        _OPEN_WATCHES.remove(watch)


async def original_of(server: RunningServer, token: str, track_id: str) -> bytes:
    response = await server.client.get(f"/api/v1/tracks/{track_id}/original", headers=bearer(token))
    assert response.status_code == 200
    return response.content


@pytest.mark.slow
async def test_a_multi_mib_upload_is_spooled_byte_for_byte(
    server: RunningServer, tmp_path: Path
) -> None:
    token = (await register(server.client, "ada"))["access_token"]
    music = write_music(tmp_path / "long.wav", 40).read_bytes()  # about 7 MiB
    assert len(music) > 6 * MiB
    with (tmp_path / "long.wav").open("rb") as file:
        plain = await server.client.post(
            "/api/v1/tracks", files={"file": ("long.wav", file, "audio/wav")}, headers=bearer(token)
        )
    assert plain.status_code == 202, plain.text
    assert plain.json()["original_bytes"] == len(music)
    assert await original_of(server, token, plain.json()["id"]) == music

    # Chunked, in odd pieces, with boundary look-alikes inside the file, and a text field after.
    tricky = (
        STREAMED_WAV
        + NEAR_BOUNDARY
        + music[44 : 3 * MiB]
        + NEAR_BOUNDARY * 3
        + noise(2 * MiB)
        + b"\r\n--"
    )
    body = (
        part_head("tricky.wav")
        + tricky
        + (
            f'\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\n'
            f"Odd pieces\r\n--{BOUNDARY}--\r\n"
        ).encode()
    )
    chunked = await server.client.post(
        "/api/v1/tracks",
        content=pieces(body, [1, 7919, 300_001, 13, 65536, 1_100_000]),
        headers=multipart_headers(token),
    )
    assert chunked.status_code == 202, chunked.text
    assert chunked.json()["title"] == "Odd pieces"
    assert await original_of(server, token, chunked.json()["id"]) == tricky
    assert list(server.settings.upload_dir.iterdir()) == []


@pytest.mark.slow
async def test_a_large_upload_does_not_block_the_event_loop(server: RunningServer) -> None:
    token = (await register(server.client, "bea"))["access_token"]
    size = 64 * MiB
    block = noise(MiB)
    longest_gap = 0.0
    uploaded = trio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield part_head("big.wav") + STREAMED_WAV
        for _ in range(size // MiB):
            yield block
        yield PART_TAIL

    async def heartbeat() -> None:
        nonlocal longest_gap
        last = trio.current_time()
        while not uploaded.is_set():
            await trio.sleep(0.005)
            now = trio.current_time()
            longest_gap = max(longest_gap, now - last)
            last = now

    length = len(part_head("big.wav")) + len(STREAMED_WAV) + size + len(PART_TAIL)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(heartbeat)
        started = trio.current_time()
        response = await server.client.post(
            "/api/v1/tracks", content=body(), headers=multipart_headers(token, length), timeout=120
        )
        took = trio.current_time() - started
        uploaded.set()
    assert response.status_code == 202, response.text
    assert response.json()["original_bytes"] == len(STREAMED_WAV) + size
    # The server, this client and the heartbeat share one event loop: had the spooling written
    # on it, the heartbeat would have stalled for as long as each write took.
    assert longest_gap < 0.25, f"the event loop stalled for {longest_gap:.3f} s ({took:.1f} s)"


async def test_no_spool_file_is_opened_written_or_closed_on_the_event_loop(
    server: RunningServer,
) -> None:
    """Deterministic where the stall measured above depends on the disk: the spool files'
    system calls are made by worker threads, never by the event loop's."""
    token = (await register(server.client, "bice"))["access_token"]
    upload_dir = server.settings.upload_dir
    data = STREAMED_WAV + noise(3 * MiB + 4321)
    with file_calls_on_this_thread(upload_dir) as seen:
        response = await server.client.post(
            "/api/v1/tracks",
            content=pieces(part_head("x.wav") + data + PART_TAIL, [65536, 1000, 300_000]),
            headers=multipart_headers(token),
        )
        # A stand-in for a blocking call, to prove the watch sees what it is meant to see.
        with (upload_dir / "probe.tmp").open("wb") as probe:
            probe.write(b"x")
    (upload_dir / "probe.tmp").unlink()
    assert response.status_code == 202, response.text
    assert await original_of(server, token, response.json()["id"]) == data
    probed = [call for call in seen if call.endswith("probe.tmp")]
    assert len(probed) == 3, f"the watch missed the probe's open, write and close: {seen}"
    assert seen == probed


@pytest.mark.slow
async def test_the_body_is_read_no_faster_than_it_is_consumed(server: RunningServer) -> None:
    """A reader slower than the network (a slow disk) must hold the client back, not let the
    body pile up in memory."""
    largest: list[int] = []

    async def slow_reader() -> dict[str, int]:
        total = 0
        async for chunk in request.body:
            largest.append(len(chunk))
            total += len(chunk)
            await trio.sleep(0.01)
        return {"total": total}

    async def whole() -> dict[str, int]:
        return {"keys": len(await request.get_json())}

    server.app.add_url_rule("/test/slow-reader", "slow_reader", slow_reader, methods=["POST"])
    server.app.add_url_rule("/test/whole", "whole", whole, methods=["POST"])
    size = 24 * MiB
    response = await server.client.post(
        "/test/slow-reader",
        content=pieces(noise(size), [MiB]),
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        timeout=60,
    )
    assert response.json() == {"total": size}
    assert max(largest) <= MiB, f"chunks of up to {max(largest) / MiB:.1f} MiB piled up"

    # A route that wants the whole body at once still gets it, even past the read-ahead.
    document = json.dumps({f"k{i}": "x" * 100 for i in range(8000)}).encode()
    assert 512 * 1024 < len(document) < server.settings.max_json_bytes
    answer = await server.client.post(
        "/test/whole",
        content=pieces(document, [65536]),
        headers={"Content-Type": "application/json"},
    )
    assert answer.json() == {"keys": 8000}


async def raw_upload_cut_off(server: RunningServer, token: str, *, chunked: bool) -> None:
    """Start an upload on a raw socket, wait until part of its file is on disk, then hang up."""
    address = urlsplit(server.url)
    stream = await trio.open_tcp_stream(address.hostname or "127.0.0.1", address.port or 80)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {64 * MiB}"
    head = (
        "POST /api/v1/tracks HTTP/1.1\r\n"
        f"Host: {address.netloc}\r\n"
        f"Authorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"{framing}\r\n\r\n"
    ).encode()
    sent = part_head("cut.wav") + noise(3 * MiB + 12345)
    if chunked:
        sent = f"{len(sent):x}\r\n".encode() + sent + b"\r\n"
    async with stream:
        await stream.send_all(head + sent)

        async def written() -> bool:
            return any(path.stat().st_size > 0 for path in server.settings.upload_dir.iterdir())

        await eventually(written, limit_s=10)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_an_upload_cut_off_mid_body_leaves_no_file(
    server: RunningServer, chunked: bool
) -> None:
    token = (await register(server.client, "cleo"))["access_token"]
    upload_dir = server.settings.upload_dir
    await raw_upload_cut_off(server, token, chunked=chunked)

    async def gone() -> bool:
        return not any(upload_dir.iterdir()) and not open_files_under(upload_dir)

    await eventually(gone, limit_s=5)
    listing = await server.client.get("/api/v1/tracks", headers=bearer(token))
    assert listing.json()["items"] == []


@pytest.mark.slow
async def test_an_upload_over_the_limit_is_refused_and_leaves_no_open_file(
    server: RunningServer,
) -> None:
    token = (await register(server.client, "dora"))["access_token"]
    block = noise(MiB)

    async def too_big() -> AsyncIterator[bytes]:
        yield part_head("huge.raw")
        for _ in range(server.settings.max_upload_bytes // MiB + 1):
            yield block
        yield PART_TAIL

    refused = await server.client.post(
        "/api/v1/tracks",
        content=too_big(),
        headers=multipart_headers(token),  # chunked: only counting the bytes can refuse it
        timeout=60,
    )
    assert refused.status_code == 413
    assert refused.headers["connection"] == "close"
    # Removed when the request's context was torn down, before its response was sent.
    upload_dir = server.settings.upload_dir
    assert list(upload_dir.iterdir()) == []
    assert open_files_under(upload_dir) == []
