"""argon2id hashing: parameters, verification, rehash detection and the decoy for unknown users."""

from __future__ import annotations

import argon2

from veza.accounts.passwords import PasswordHasher
from veza.config import Settings


def cheap(time_cost: int = 1) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_kib=1024, parallelism=1, concurrency=2)


def test_defaults_are_at_least_rfc_9106_low_memory() -> None:
    defaults, profile = Settings(), argon2.profiles.RFC_9106_LOW_MEMORY
    assert defaults.argon2_time_cost >= profile.time_cost
    assert defaults.argon2_memory_kib >= profile.memory_cost
    assert defaults.argon2_parallelism >= 1


async def test_hash_is_argon2id_with_the_configured_parameters() -> None:
    hashed = await cheap().hash("a fine password")
    assert hashed.startswith("$argon2id$")
    assert "m=1024,t=1,p=1" in hashed
    assert await cheap().verify(hashed, "a fine password")
    assert not await cheap().verify(hashed, "another password")
    assert not await cheap().verify("not a hash", "a fine password")


async def test_changed_parameters_call_for_a_rehash() -> None:
    old = await cheap(time_cost=1).hash("a fine password")
    assert not cheap(time_cost=1).needs_rehash(old)
    assert cheap(time_cost=2).needs_rehash(old)
    assert cheap().needs_rehash("garbage")


async def test_decoy_verification_does_the_hashing_work() -> None:
    hasher = cheap()
    await hasher.verify_decoy("anything")  # never raises, never matches
    assert hasher._decoy is not None and hasher._decoy.startswith("$argon2id$")
