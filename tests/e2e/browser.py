"""The web client in Debian's Chromium, driven by Playwright from Trio tests.

Each call hands a function of the Playwright page to the browser's own thread
(tests/players/browser.py says why). The page's console errors, uncaught errors and refused
requests are collected: a test ends by asserting there were none (a CSP violation is reported
to the console as an error, so it is caught there too)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import trio

from tests.players.browser import FLAGS, BrowserThread, chromium_path, require_playwright
from tests.support.accounts import PASSWORD

T = TypeVar("T")


@dataclass
class Client:
    """One browser page showing Veza's client."""

    thread: BrowserThread
    page: Any
    headers: dict[str, str]  # of the first page load
    errors: list[str] = field(default_factory=list)

    async def do(self, fn: Callable[[Any], T], limit_s: float = 60) -> T:
        """Run `fn(page)` in the browser's thread."""
        return await self.thread.call(lambda: fn(self.page), limit_s)

    async def js(self, expression: str, arg: Any = None) -> Any:
        return await self.do(lambda page: page.evaluate(expression, arg))

    async def until(self, expression: str, arg: Any = None, limit_s: float = 30) -> Any:
        """Wait until the function `expression` is truthy in the page (no string eval: the
        client's CSP forbids it, so the expression must be a function)."""
        return await self.do(
            lambda page: page.wait_for_function(
                expression, arg=arg, timeout=limit_s * 1000, polling=100
            ).json_value(),
            limit_s + 5,
        )

    async def sign_up(self, name: str) -> None:
        def steps(page: Any) -> None:
            page.get_by_role("link", name="Create an account").first.click()
            page.get_by_label("Email address").fill(f"{name}@example.org")
            page.get_by_label("Username").fill(name)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Create the account").click()
            page.get_by_role("heading", name="Library").wait_for()

        await self.do(steps)

    async def sign_in(self, login: str) -> None:
        def steps(page: Any) -> None:
            page.get_by_label("Email or username").fill(login)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("heading", name="Library").wait_for()

        await self.do(steps)

    def expect_error(self, text: str) -> None:
        """One console error containing `text` was expected (the browser logs every failed
        response, also one the client shows the person in words): no longer counted."""
        found = next((e for e in self.errors if text in e), None)
        assert found is not None, f"no error with {text!r} in {self.errors}"
        self.errors.remove(found)

    def assert_clean(self) -> None:
        assert self.errors == [], "\n".join(self.errors)


@asynccontextmanager
async def client_page(url: str, *, width: int = 1280, height: int = 800) -> AsyncIterator[Client]:
    """A fresh Chromium (new profile: no cookie) showing Veza at `url`."""
    executable = chromium_path()
    require_playwright()
    from playwright.sync_api import sync_playwright

    thread = BrowserThread()
    state: dict[str, Any] = {}
    errors: list[str] = []

    def launch() -> Any:
        state["playwright"] = sync_playwright().start()
        browser = state["browser"] = state["playwright"].chromium.launch(
            executable_path=executable, headless=True, args=FLAGS
        )
        page = browser.new_page(viewport={"width": width, "height": height})
        page.on(
            "console",
            lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
        page.on("requestfailed", lambda r: _failed(errors, r))
        page.set_default_timeout(30_000)
        state["headers"] = page.goto(url).all_headers()
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
        yield Client(thread, page, state["headers"], errors)
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(20):
            await thread.call(close)
        thread.stop()


def _failed(errors: list[str], request: Any) -> None:
    # A fetch the client aborted on purpose (a search superseded by the next keystroke, a seek
    # that drops the segment in flight) is not a failure.
    if request.failure != "net::ERR_ABORTED":
        errors.append(f"request failed: {request.url} {request.failure}")
