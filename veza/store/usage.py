"""Storage per user: the bytes their tracks take, and their quota when an admin set one."""

from __future__ import annotations

from veza.store.database import Executor

# NULL: the configured default applies.
SCHEMA = ("ALTER TABLE users ADD COLUMN quota_bytes BIGINT",)

# What a user's tracks take: the originals Veza holds (not those left in a music folder)
# and what was made of them (renditions, waveform, covers).
_USED = (
    "COALESCE(SUM(CASE WHEN source_path IS NULL THEN original_bytes ELSE 0 END)"
    " + SUM(stored_bytes), 0)"
)


class UsageRepository:
    """Queries over one executor: the database itself, or a transaction (see Store)."""

    def __init__(self, executor: Executor) -> None:
        self._db = executor

    async def used_bytes(self, user_id: str) -> int:
        row = await self._db.fetch_one(
            f"SELECT {_USED} AS used FROM tracks WHERE owner_id = ?", (user_id,)
        )
        return 0 if row is None else int(row["used"])

    async def used_bytes_of(self, user_ids: list[str]) -> dict[str, int]:
        if not user_ids:
            return {}
        marks = ", ".join("?" for _ in user_ids)
        rows = await self._db.fetch_all(
            f"SELECT owner_id, {_USED} AS used FROM tracks WHERE owner_id IN ({marks}) "
            "GROUP BY owner_id",
            tuple(user_ids),
        )
        found = {row["owner_id"]: int(row["used"]) for row in rows}
        return {user_id: found.get(user_id, 0) for user_id in user_ids}

    async def quota_override(self, user_id: str) -> int | None:
        row = await self._db.fetch_one("SELECT quota_bytes FROM users WHERE id = ?", (user_id,))
        return None if row is None or row["quota_bytes"] is None else int(row["quota_bytes"])

    async def quota_overrides(self, user_ids: list[str]) -> dict[str, int | None]:
        if not user_ids:
            return {}
        marks = ", ".join("?" for _ in user_ids)
        rows = await self._db.fetch_all(
            f"SELECT id, quota_bytes FROM users WHERE id IN ({marks})", tuple(user_ids)
        )
        return {
            row["id"]: None if row["quota_bytes"] is None else int(row["quota_bytes"])
            for row in rows
        }

    async def set_quota_override(self, user_id: str, quota_bytes: int | None) -> None:
        await self._db.execute(
            "UPDATE users SET quota_bytes = ? WHERE id = ?", (quota_bytes, user_id)
        )
