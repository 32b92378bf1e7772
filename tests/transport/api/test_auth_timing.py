"""Timing: an unknown login costs what a wrong password costs, and a password-reset request
for an unknown email costs what one for a known email costs. Medians of interleaved samples,
compared by ratio or against the cost being hidden, never against absolute times, so a slow or
busy machine does not make these flaky."""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from tests.support.accounts import fast_settings, register
from tests.support.mail import SmtpServer
from tests.support.server import RunningServer
from veza.config import Settings

TRIES = 20


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Hashing heavy enough to dominate a request, so skipping it would show in the ratio.
    return fast_settings(tmp_path, argon2_time_cost=2, argon2_memory_kib=16_384)


async def median_seconds(server: RunningServer, path: str, *bodies: dict[str, str]) -> list[float]:
    """The median time of a request with each body, the bodies taking turns, so that whatever
    else the machine is doing weighs on each of them alike."""
    samples: list[list[float]] = [[] for _ in bodies]
    for _ in range(TRIES):
        for body, times in zip(bodies, samples, strict=True):
            started = time.perf_counter()
            response = await server.client.post(path, json=body)
            times.append(time.perf_counter() - started)
            assert response.status_code in (202, 401), response.text
    return [statistics.median(times) for times in samples]


@pytest.mark.slow
async def test_unknown_user_and_wrong_password_take_comparable_time(
    server: RunningServer,
) -> None:
    await register(server.client, "known")
    login = "/api/v1/auth/login"
    await server.client.post(login, json={"login": "warm", "password": "up"})  # decoy made
    wrong, unknown = await median_seconds(
        server,
        login,
        {"login": "known", "password": "wrong password"},
        {"login": "nobody", "password": "wrong pass"},
    )
    assert 0.5 <= unknown / wrong <= 2.0, (unknown, wrong)


MAIL_DELAY_S = 0.1


class TestPasswordReset:
    """The known address really costs more, but later: its mail goes to an SMTP server that
    takes 0.1 s over every message. Answering only after the mail was sent would make each
    known request that much slower than an unknown one."""

    @pytest.fixture
    async def smtp(self) -> AsyncIterator[SmtpServer]:
        smtp = SmtpServer(delay_s=MAIL_DELAY_S)
        async with trio.open_nursery() as nursery:
            await nursery.start(smtp.serve)
            yield smtp
            nursery.cancel_scope.cancel()

    @pytest.fixture
    def settings(self, tmp_path: Path, smtp: SmtpServer) -> Settings:
        return fast_settings(
            tmp_path,
            mail_backend="smtp",
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            smtp_starttls=False,
        )

    async def test_password_reset_answers_known_and_unknown_emails_alike(
        self, server: RunningServer, smtp: SmtpServer
    ) -> None:
        await register(server.client, "known")
        known, unknown = await median_seconds(
            server,
            "/api/v1/auth/password-reset",
            {"email": "known@example.org"},
            {"email": "nobody@example.org"},
        )
        # Both are answered in a few milliseconds, where a ratio is mostly noise; what matters
        # is that no known request waited for its mail (0.1 s each).
        assert abs(known - unknown) < MAIL_DELAY_S / 2, (known, unknown)
        # The known address was one: its mail goes out (one at a time, each taking 0.1 s).
        with trio.fail_after(5):
            await smtp.received.wait()
        assert all("To: known@example.org" in message for message in smtp.messages)
