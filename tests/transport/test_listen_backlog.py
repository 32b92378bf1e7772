"""The listening socket holds `http_listen_backlog` connections waiting to be accepted, not
Hypercorn's 100: with 500 players connecting at once, 100 overflowed the queue and the rest
waited for their SYN to be sent again (seconds; docs/benchmarks.md, "Serving")."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import trio

from tests.support import require_tool
from tests.support.server import make_settings, serving


async def listen_backlog(port: int) -> int:
    """What the kernel reports for the listening socket on `port` (ss: Send-Q)."""
    ss = require_tool("ss")
    found = await trio.run_process([ss, "-Hltn", f"sport = :{port}"], capture_stdout=True)
    state, _, backlog, *_ = found.stdout.decode().split()
    assert state == "LISTEN"
    return int(backlog)


async def test_the_listening_socket_takes_the_configured_backlog(tmp_path: Path) -> None:
    async with serving(make_settings(tmp_path / "a")) as server:
        assert await listen_backlog(urlsplit(server.url).port or 0) == 1024
    async with serving(make_settings(tmp_path / "b", http_listen_backlog=777)) as server:
        assert await listen_backlog(urlsplit(server.url).port or 0) == 777
