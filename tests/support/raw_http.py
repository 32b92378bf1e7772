"""HTTP/1.1 over a raw socket, for tests about connections themselves: what the server does with
a body it did not read, a slow reader, a client that stops reading."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

import trio

from tests.support.server import RunningServer

BOUNDARY = "rawboundary"


async def connect(server: RunningServer) -> trio.SocketStream:
    parts = urlsplit(server.url)
    return await trio.open_tcp_stream(parts.hostname or "127.0.0.1", parts.port or 80)


def request_head(
    method: str, target: str, headers: dict[str, str] | None = None, length: int | None = None
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: test"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def upload_head(token: str, length: int) -> bytes:
    """The head of a multipart upload to /api/v1/tracks announcing `length` bytes of body."""
    return request_head(
        "POST",
        "/api/v1/tracks",
        {
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        },
        length,
    )


def file_part(data: bytes, filename: str = "upload.wav") -> bytes:
    """A whole multipart body with one file part `file` holding `data`."""
    disposition = f'form-data; name="file"; filename="{filename}"'
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
    head += "Content-Type: application/octet-stream\r\n\r\n"
    return head.encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def closes(self) -> bool:
        return self.headers.get("connection", "").lower() == "close"


class Reader:
    """Reads responses off one connection, keeping what arrives beyond each."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def _more(self) -> bool:
        try:
            chunk = await self.stream.receive_some(65536)
        except trio.BrokenResourceError:  # reset by the server
            chunk = b""
        self.buffer += chunk
        return bool(chunk)

    async def response(self) -> RawResponse | None:
        """The next response, or None when the server closes the connection first."""
        while b"\r\n\r\n" not in self.buffer:
            if not await self._more():
                return None
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            if not await self._more():
                break
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return RawResponse(int(status_line.split()[1]), headers, body)

    async def until_closed(self) -> bytes:
        """Everything until the server closes the connection."""
        while await self._more():
            pass
        received, self.buffer = self.buffer, b""
        return received


async def send_or_closed(stream: trio.SocketStream, data: bytes) -> bool:
    """Send `data`; False when the server has closed the connection already."""
    try:
        await stream.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return False
    return True


def open_descriptors() -> int:
    """File descriptors of this process, which runs the server as well as the test."""
    return len(os.listdir("/proc/self/fd"))
