"""The test page's own origin: a tiny static server on another loopback port than Veza, so the
players fetch Veza's HLS cross-origin, as a web client hosted elsewhere would."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from tests.support import unavailable

HERE = Path(__file__).parent
HLS_JS = HERE / "node_modules" / "hls.js" / "dist" / "hls.min.js"

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def require_hls_js() -> None:
    """hls.js comes from `npm ci` in tests/players (./scripts/test runs it when Node is there)."""
    if not HLS_JS.is_file():
        unavailable(f"hls.js is not installed: run `npm ci` in {HERE} (./scripts/test does)")


def site_files() -> dict[str, tuple[Path, bytes]]:
    """Path on the site -> (file, content type); hls.js only once installed."""
    files = {"/": (HERE / "page" / "index.html", b"text/html; charset=utf-8")}
    if HLS_JS.is_file():
        files["/hls.js"] = (HLS_JS, b"text/javascript; charset=utf-8")
    return files


class StaticSite:
    """A raw ASGI app answering GET for a few files, 404 for anything else."""

    def __init__(self, files: dict[str, tuple[Path, bytes]]) -> None:
        self._files = {path: (file.read_bytes(), kind) for path, (file, kind) in files.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": message["type"] + ".complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        found = self._files.get(scope["path"])
        body, kind = found if found else (b"not found\n", b"text/plain")
        headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
        headers.append((b"cache-control", b"no-store"))
        await send(
            {"type": "http.response.start", "status": 200 if found else 404, "headers": headers}
        )
        await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def static_site() -> AsyncIterator[str]:
    """Serve the test page on 127.0.0.1 for the body of the block; yields its origin."""
    app = StaticSite(site_files())
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = None  # its start-up line is noise in every test
    config.graceful_timeout = 0.5
    done = trio.Event()
    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(
            partial(serve, app, config, shutdown_trigger=done.wait)  # type: ignore[arg-type]
        )
        try:
            yield binds[0]
        finally:
            done.set()
