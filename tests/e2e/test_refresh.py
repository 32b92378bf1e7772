"""An access token that expired under the client: the requests it carried are answered 401,
the client refreshes it from the cookie once, however many failed together, sends them again,
and the person sees the page as if nothing happened.

The client refreshes ahead of expiry by its own clock (tests/e2e/test_client.py covers that
path), so the server's clock is the one moved here (tests/support/clock.py): the client still
believes its token fresh when the server already holds it expired, as when the browser's
timers were held back (a suspended laptop, a throttled background tab)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser import client_page
from tests.support.accounts import fast_settings, make_admin
from tests.support.clock import Clock
from tests.support.server import RunningServer
from veza.config import Settings

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("chromium")]

TTL = 30  # seconds: the client's own refresh comes after 22.5, long after this test's steps
AUTH = "() => window.vezaDebug.auth"
NO_ERROR_SHOWN = "() => document.querySelectorAll('.toast.error, .error:not(:empty)').length"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path, access_token_ttl_seconds=TTL)


async def test_requests_refused_for_an_expired_token_are_sent_again_after_one_refresh(
    server: RunningServer, clock: Clock
) -> None:
    await make_admin(server, "root")
    seen: list[tuple[str, str, int]] = []

    def record(page: Any) -> None:
        page.on("response", lambda r: seen.append((r.request.method, r.url, r.status)))

    def unauthorised(path: str) -> list[str]:
        return [url for _, url, status in seen if status == 401 and path in url]

    def refreshes() -> int:
        return sum(1 for m, url, _ in seen if m == "POST" and url.endswith("/auth/refresh"))

    async with client_page(f"{server.url}/signin") as client:
        await client.do(record)
        await client.sign_in("root")
        await client.until("() => window.vezaDebug && window.vezaDebug.auth")
        before = await client.js(AUTH)
        assert refreshes() == 0

        # The token expires for the server. The admin page asks three things at once (the
        # accounts, the jobs, the scan): each is refused, one refresh serves all three, each
        # is sent again and answered.
        clock.advance(TTL + 1)
        await client.do(lambda page: page.get_by_role("link", name="Admin").click())
        await client.do(lambda page: page.locator('li[data-user="root"]').wait_for())
        await client.do(lambda page: page.locator("ul.jobs li").first.wait_for())
        await client.do(lambda page: page.locator("#scan-state:not(:empty)").wait_for())
        refused = unauthorised("/api/v1/admin/")
        assert len(refused) == 3, seen
        assert refreshes() == 1, seen
        answered = [u for m, u, s in seen if s == 200 and "/api/v1/admin/" in u and m == "GET"]
        assert sorted(refused) == sorted(answered), seen
        after = await client.js(AUTH)
        assert after["refreshes"] == before["refreshes"] + 1, after
        assert after["retried"] == before["retried"] + 3, after
        assert after["failedRefreshes"] == 0, after
        assert await client.js(NO_ERROR_SHOWN) == 0

        # Once more with one request alone (the sessions of the account page).
        clock.advance(TTL + 1)
        await client.do(lambda page: page.get_by_role("link", name="root").click())
        await client.do(lambda page: page.locator(".sessions li").first.wait_for())
        assert len(unauthorised("/api/v1/me/sessions")) == 1, seen
        assert refreshes() == 2, seen
        assert await client.js(NO_ERROR_SHOWN) == 0

        # The browser logs each refused response to its console: the person saw nothing.
        for _ in range(4):
            client.expect_error("status of 401")
        client.assert_clean()
