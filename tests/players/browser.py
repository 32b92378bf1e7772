"""Debian's Chromium driven by Playwright for Python, from Trio tests.

Playwright's async API needs asyncio, and its sync API must be used from the one thread that
started it. So the browser gets one thread of its own for its whole life: every call is handed
to it, and the Trio task waits for the answer in a worker thread of Trio's
(`trio.to_thread.run_sync`), so the event loop (and Veza, serving in it) never blocks. That
thread is a daemon: a browser call stuck past every time-out fails its test, not pytest's exit.
Playwright never downloads a browser here: it launches Debian's /usr/bin/chromium.
"""

from __future__ import annotations

import asyncio
import queue
import shutil
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import trio

from tests.support import unavailable

T = TypeVar("T")

# Headless, no GPU, no traffic of the browser's own; autoplay allowed (the element is muted too).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
CALL_LIMIT_S = 60  # no single call to the browser takes longer than this


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        unavailable("chromium is not installed (Debian's package `chromium`)")
    return path


def require_playwright() -> None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        unavailable("playwright (Python) is not installed: the dev extra brings it")


class BrowserThread:
    """One daemon thread running the calls handed to it, one after another."""

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None]
        self._calls = queue.SimpleQueue()
        threading.Thread(target=self._run, name="chromium", daemon=True).start()

    def _run(self) -> None:
        # Playwright makes an asyncio loop in this thread. Once any test has used PostgreSQL,
        # trio-asyncio is imported and its global policy would make that loop one of its own
        # (which Playwright cannot drive). asyncio's default policy instead (trio-asyncio keeps
        # a policy set outside Trio per thread; without it, this is the global default anyway).
        asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
        while (call := self._calls.get()) is not None:
            future, fn = call
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn())
                except BaseException as error:
                    future.set_exception(error)

    async def call(self, fn: Callable[[], T], limit_s: float = CALL_LIMIT_S) -> T:
        future: Future[T] = Future()
        self._calls.put((future, fn))
        with trio.fail_after(limit_s):
            return await trio.to_thread.run_sync(future.result, abandon_on_cancel=True)

    def stop(self) -> None:
        self._calls.put(None)


class Page:
    """One page of the browser; each call runs in the browser's thread."""

    def __init__(self, thread: BrowserThread, page: Any, log: list[str]) -> None:
        self._thread = thread
        self._page = page
        self.log = log  # the page's console lines and uncaught errors, for failure messages

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._thread.call(lambda: fn(*args))

    async def goto(self, url: str) -> None:
        await self._call(self._page.goto, url)

    async def evaluate(self, expression: str, arg: Any = None) -> Any:
        return await self._call(self._page.evaluate, expression, arg)

    async def wait_for(self, expression: str, arg: Any = None, *, limit_s: float = 20) -> Any:
        """Wait until the JavaScript `expression` (a function of `arg`) is truthy; its value.
        On time-out, an AssertionError with the page's report() and log."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        def wait() -> Any:
            try:
                handle = self._page.wait_for_function(
                    expression, arg=arg, timeout=limit_s * 1000, polling=100
                )
            except PlaywrightTimeout:
                report = self._page.evaluate("() => window.report ? window.report() : null")
                log = "\n".join(self.log[-20:])
                raise AssertionError(
                    f"not within {limit_s} s: {expression} ({arg!r})\n{report}\n{log}"
                ) from None
            return handle.json_value()

        return await self._call(wait)


@asynccontextmanager
async def chromium_page(url: str) -> AsyncIterator[Page]:
    """A fresh headless Chromium showing `url`, closed (browser and driver) at the end."""
    executable = chromium_path()
    require_playwright()
    from playwright.sync_api import sync_playwright

    thread = BrowserThread()
    log: list[str] = []
    state: dict[str, Any] = {}

    def launch() -> Any:
        state["playwright"] = sync_playwright().start()
        browser = state["playwright"].chromium.launch(
            executable_path=executable, headless=True, args=FLAGS
        )
        state["browser"] = browser
        page = browser.new_page()
        page.on("console", lambda message: log.append(f"console.{message.type}: {message.text}"))
        page.on("pageerror", lambda error: log.append(f"pageerror: {error}"))
        page.goto(url)
        return page

    def close() -> None:
        try:
            if "browser" in state:
                state["browser"].close()
        finally:
            if "playwright" in state:
                state["playwright"].stop()

    try:
        page = await thread.call(launch)
        yield Page(thread, page, log)
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(20):
            await thread.call(close)
        thread.stop()
