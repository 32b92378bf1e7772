"""Storage quotas and the free-space floor: what a user's tracks take, what they may take, and
whether the data directory can take an upload at all."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import trio

from veza.accounts import Role, UserRow
from veza.errors import InsufficientStorage, NotFound, QuotaExceeded
from veza.store import Store


@dataclass(frozen=True)
class Usage:
    used_bytes: int
    quota_bytes: int | None  # None: no limit


@dataclass
class _Admission:
    """One user's admission lock and how many callers hold or wait for it."""

    lock: trio.Lock = field(default_factory=trio.Lock)
    users: int = 0


class Quotas:
    def __init__(self, store: Store, data_dir: Path, default_bytes: int, floor_bytes: int) -> None:
        self._store = store
        self._data_dir = data_dir
        self._default = default_bytes
        self._floor = floor_bytes
        self._admissions: dict[str, _Admission] = {}

    def _quota(self, user: UserRow, override: int | None) -> int | None:
        if user.role == Role.ADMIN:
            return None
        if override is not None:
            return override
        return self._default or None

    async def usage(self, user: UserRow) -> Usage:
        used = await self._store.usage.used_bytes(user.id)
        return Usage(used, self._quota(user, await self._store.usage.quota_override(user.id)))

    async def usages(self, users: list[UserRow]) -> dict[str, Usage]:
        ids = [user.id for user in users]
        used = await self._store.usage.used_bytes_of(ids)
        overrides = await self._store.usage.quota_overrides(ids)
        return {u.id: Usage(used[u.id], self._quota(u, overrides.get(u.id))) for u in users}

    @asynccontextmanager
    async def admitting(self, user: UserRow, size: int) -> AsyncIterator[None]:
        """Refuse a file of `size` bytes that would take `user` over their quota; otherwise
        hold the user's admission until the caller has added the file to the library, so
        concurrent uploads of one user are each checked against what the others added (one
        process at a time: with several processes on PostgreSQL, uploads arriving at the same
        instant on different processes may together pass the quota by one file)."""
        admission = self._admissions.setdefault(user.id, _Admission())
        admission.users += 1
        try:
            async with admission.lock:
                await self._check(user, size)
                yield
        finally:
            admission.users -= 1
            if not admission.users:
                del self._admissions[user.id]

    async def _check(self, user: UserRow, size: int) -> None:
        usage = await self.usage(user)
        if usage.quota_bytes is not None and usage.used_bytes + size > usage.quota_bytes:
            error = QuotaExceeded(
                f"this file ({size} bytes) would take you over your storage quota "
                f"({usage.used_bytes} of {usage.quota_bytes} bytes used)"
            )
            error.details.update(
                used_bytes=usage.used_bytes, quota_bytes=usage.quota_bytes, size_bytes=size
            )
            raise error

    async def set_quota(self, user_id: str, quota_bytes: int | None) -> None:
        """An admin's override for one user; None: the configured default again."""
        if await self._store.accounts.user(user_id) is None:
            raise NotFound("no such user")
        await self._store.usage.set_quota_override(user_id, quota_bytes)

    async def check_disk(self) -> None:
        """Refuse (507) while the data directory's free space is under the floor."""
        if self._floor <= 0:
            return
        free = await trio.to_thread.run_sync(_free_bytes, self._data_dir)
        if free < self._floor:
            raise InsufficientStorage(
                "the server is short of disk space; uploads are refused until some is freed"
            )


def _free_bytes(path: Path) -> int:
    """Free space for unprivileged writers where `path` (or its nearest existing parent) is."""
    while not path.exists() and path.parent != path:
        path = path.parent
    if hasattr(os, "statvfs"):
        stat = os.statvfs(path)
        return stat.f_bavail * stat.f_frsize
    return shutil.disk_usage(path).free
