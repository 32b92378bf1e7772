"""Timing: an unknown login costs what a wrong password costs, and a password-reset request
for an unknown email costs what one for a known email costs. Ratios of medians, never
absolute times, so a slow machine does not make these flaky."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest

from tests.support.accounts import fast_settings, register
from tests.support.server import RunningServer
from veza.config import Settings

TRIES = 20


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Hashing heavy enough to dominate a request, so skipping it would show in the ratio.
    return fast_settings(tmp_path, argon2_time_cost=2, argon2_memory_kib=16_384)


async def median_seconds(server: RunningServer, path: str, body: dict[str, str]) -> float:
    samples = []
    for _ in range(TRIES):
        started = time.perf_counter()
        await server.client.post(path, json=body)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def test_unknown_user_and_wrong_password_take_comparable_time(
    server: RunningServer,
) -> None:
    await register(server.client, "known")
    login = "/api/v1/auth/login"
    await median_seconds(server, login, {"login": "warm", "password": "up"})  # decoy made
    wrong = await median_seconds(server, login, {"login": "known", "password": "wrong password"})
    unknown = await median_seconds(server, login, {"login": "nobody", "password": "wrong pass"})
    assert 0.5 <= unknown / wrong <= 2.0, (unknown, wrong)


async def test_password_reset_answers_known_and_unknown_emails_alike(
    server: RunningServer,
) -> None:
    await register(server.client, "known")
    reset = "/api/v1/auth/password-reset"
    known = await median_seconds(server, reset, {"email": "known@example.org"})
    unknown = await median_seconds(server, reset, {"email": "nobody@example.org"})
    assert 0.5 <= unknown / known <= 2.0, (unknown, known)
