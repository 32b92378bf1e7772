"""`veza serve` as a child process: a SIGTERM that arrives in the middle of an upload leaves no
partial spool file in the upload directory once the process has exited."""

from __future__ import annotations

import signal
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.process import ServeProcess, wait_until

BOUNDARY = "shutdownboundary"
MiB = 1024 * 1024
# Cheap password hashing for the child process, whose defaults are meant for production.
FAST_HASHING = {
    "VEZA_ARGON2_TIME_COST": "1",
    "VEZA_ARGON2_MEMORY_KIB": "1024",
    "VEZA_ARGON2_PARALLELISM": "1",
}


def register(url: str) -> str:
    response = httpx.post(
        f"{url}/api/v1/auth/register",
        json={"email": "una@example.org", "username": "una", "password": "a long enough password"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["access_token"]
    return token


def start_upload(url: str, token: str, declared: int, first: bytes) -> socket.socket:
    """A raw HTTP upload that declares `declared` body bytes and sends only `first` of them."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=10)
    head = (
        f"POST /api/v1/tracks HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {declared}\r\n\r\n"
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    sock.sendall(head + first)
    return sock


@pytest.mark.slow
def test_sigterm_mid_upload_removes_the_partial_spool_file_before_exit(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ServeProcess(data, **FAST_HASHING)
    sock = None
    try:
        token = register(server.url)
        uploads = data / "uploads"
        sock = start_upload(server.url, token, 512 * MiB, bytes(2 * MiB))
        wait_until(lambda: any(p.stat().st_size > 0 for p in uploads.iterdir()), seconds=20)
        code, seconds = server.stop(signal.SIGTERM)
    finally:
        if sock is not None:
            sock.close()
        server.kill()
    assert code == 0, server.log()
    assert seconds < 10, server.log()
    assert list(uploads.iterdir()) == [], server.log()
