"""Password hashing: argon2id in worker threads, bounded so logins never exhaust memory."""

from __future__ import annotations

import secrets

import argon2
import trio
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from veza.config import Settings


class PasswordHasher:
    """argon2id with configured costs; at most `concurrency` hashes run at once, each in a
    worker thread, so the event loop keeps serving and memory stays under
    concurrency x memory_kib."""

    def __init__(
        self, *, time_cost: int, memory_kib: int, parallelism: int, concurrency: int
    ) -> None:
        self._argon2 = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        self._limiter = trio.CapacityLimiter(concurrency)
        self._decoy: str | None = None

    @classmethod
    def configured(cls, settings: Settings, *, concurrency: int | None = None) -> PasswordHasher:
        """The hasher the settings describe; `concurrency` overrides theirs (a command line)."""
        return cls(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            concurrency=concurrency or settings.password_hash_concurrency,
        )

    async def hash(self, password: str) -> str:
        return await trio.to_thread.run_sync(self._argon2.hash, password, limiter=self._limiter)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await trio.to_thread.run_sync(
            self._verify, password_hash, password, limiter=self._limiter
        )

    async def verify_decoy(self, password: str) -> None:
        """The same work as a real verification, for a login that names nobody: an unknown
        user costs as much time as a wrong password (ASVS 6.3.8)."""
        if self._decoy is None:
            self._decoy = await self.hash(secrets.token_urlsafe(16))
        await self.verify(self._decoy, password)

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with other parameters than those configured now."""
        try:
            return self._argon2.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._argon2.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
