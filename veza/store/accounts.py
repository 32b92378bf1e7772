"""The accounts repository: users, sessions, refresh tokens and password-reset tokens.

Portable SQL only; secrets are never stored, only their SHA-256 digests.
"""

from __future__ import annotations

from dataclasses import dataclass

from veza.store.database import Executor, Row

SCHEMA = (
    """CREATE TABLE users (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        username_key TEXT NOT NULL,
        email TEXT NOT NULL,
        email_key TEXT NOT NULL,
        display_name TEXT,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    )""",
    # Case-insensitive uniqueness through stored normalised keys: works the same on PostgreSQL.
    "CREATE UNIQUE INDEX users_username_key ON users (username_key)",
    "CREATE UNIQUE INDEX users_email_key ON users (email_key)",
    "CREATE INDEX users_created ON users (created_at, id)",
    """CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at DOUBLE PRECISION NOT NULL,
        last_used_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL,
        revoked_at DOUBLE PRECISION,
        user_agent TEXT NOT NULL,
        address TEXT NOT NULL
    )""",
    "CREATE INDEX sessions_user ON sessions (user_id)",
    "CREATE INDEX sessions_expires ON sessions (expires_at)",
    """CREATE TABLE refresh_tokens (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        token_hash TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL,
        spent_at DOUBLE PRECISION
    )""",
    "CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id)",
    "CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at)",
    """CREATE TABLE password_resets (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        token_hash TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL,
        used_at DOUBLE PRECISION
    )""",
    "CREATE INDEX password_resets_user ON password_resets (user_id)",
    "CREATE INDEX password_resets_expires ON password_resets (expires_at)",
)

_USER_COLUMNS = (
    "id, username, email, display_name, password_hash, role, disabled, created_at, updated_at"
)
_SESSION_COLUMNS = (
    "id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, address"
)


@dataclass(frozen=True)
class UserRow:
    id: str
    username: str
    email: str
    display_name: str | None
    password_hash: str
    role: str
    disabled: bool
    created_at: float
    updated_at: float

    @classmethod
    def from_row(cls, row: Row, prefix: str = "") -> UserRow:
        return cls(
            id=row[prefix + "id"],
            username=row[prefix + "username"],
            email=row[prefix + "email"],
            display_name=row[prefix + "display_name"],
            password_hash=row[prefix + "password_hash"],
            role=row[prefix + "role"],
            disabled=bool(row[prefix + "disabled"]),
            created_at=float(row[prefix + "created_at"]),
            updated_at=float(row[prefix + "updated_at"]),
        )


@dataclass(frozen=True)
class SessionRow:
    id: str
    user_id: str
    created_at: float
    last_used_at: float
    expires_at: float
    revoked_at: float | None
    user_agent: str
    address: str

    @classmethod
    def from_row(cls, row: Row, prefix: str = "") -> SessionRow:
        revoked = row[prefix + "revoked_at"]
        return cls(
            id=row[prefix + "id"],
            user_id=row[prefix + "user_id"],
            created_at=float(row[prefix + "created_at"]),
            last_used_at=float(row[prefix + "last_used_at"]),
            expires_at=float(row[prefix + "expires_at"]),
            revoked_at=None if revoked is None else float(revoked),
            user_agent=row[prefix + "user_agent"],
            address=row[prefix + "address"],
        )

    def usable(self, now: float) -> bool:
        """Neither revoked nor past its absolute lifetime: the one test of a live session."""
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True)
class RefreshTokenRow:
    id: str
    session: SessionRow
    token_hash: str
    expires_at: float
    spent_at: float | None


@dataclass(frozen=True)
class ResetTokenRow:
    id: str
    user_id: str
    token_hash: str
    expires_at: float
    used_at: float | None


def _prefixed(table: str, columns: str, prefix: str) -> str:
    return ", ".join(f"{table}.{c.strip()} AS {prefix}{c.strip()}" for c in columns.split(","))


class AccountsRepository:
    """Queries over one executor: the database itself, or a transaction (see Store)."""

    def __init__(self, executor: Executor) -> None:
        self._db = executor

    # Users

    async def insert_user(
        self,
        *,
        id: str,
        username: str,
        username_key: str,
        email: str,
        email_key: str,
        password_hash: str,
        role: str,
        now: float,
    ) -> None:
        """Raises IntegrityError when the username or email key is taken."""
        await self._db.execute(
            "INSERT INTO users (id, username, username_key, email, email_key, display_name,"
            " password_hash, role, disabled, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, NULL, ?, ?, 0, ?, ?)",
            (id, username, username_key, email, email_key, password_hash, role, now, now),
        )

    async def user(self, user_id: str) -> UserRow | None:
        row = await self._db.fetch_one(
            f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", (user_id,)
        )
        return None if row is None else UserRow.from_row(row)

    async def user_by_username_key(self, key: str) -> UserRow | None:
        row = await self._db.fetch_one(
            f"SELECT {_USER_COLUMNS} FROM users WHERE username_key = ?", (key,)
        )
        return None if row is None else UserRow.from_row(row)

    async def first_admin(self) -> UserRow | None:
        """The oldest admin account that is not disabled (`veza import`'s default owner)."""
        row = await self._db.fetch_one(
            f"SELECT {_USER_COLUMNS} FROM users WHERE role = 'admin' AND disabled = 0 "
            "ORDER BY created_at, id LIMIT 1"
        )
        return None if row is None else UserRow.from_row(row)

    async def user_by_email_key(self, key: str) -> UserRow | None:
        row = await self._db.fetch_one(
            f"SELECT {_USER_COLUMNS} FROM users WHERE email_key = ?", (key,)
        )
        return None if row is None else UserRow.from_row(row)

    async def list_users(self, after: tuple[float, str] | None, limit: int) -> list[UserRow]:
        """Users in creation order, starting after the (created_at, id) key; at most `limit`."""
        if after is None:
            rows = await self._db.fetch_all(
                f"SELECT {_USER_COLUMNS} FROM users ORDER BY created_at, id LIMIT ?", (limit,)
            )
        else:
            rows = await self._db.fetch_all(
                f"SELECT {_USER_COLUMNS} FROM users"
                " WHERE created_at > ? OR (created_at = ? AND id > ?)"
                " ORDER BY created_at, id LIMIT ?",
                (after[0], after[0], after[1], limit),
            )
        return [UserRow.from_row(row) for row in rows]

    async def set_password_hash(self, user_id: str, password_hash: str, now: float) -> None:
        await self._db.execute(
            "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
            (password_hash, now, user_id),
        )

    async def upgrade_password_hash(
        self, user_id: str, old_hash: str, new_hash: str, now: float
    ) -> int:
        """Replace the hash only if it is still `old_hash`: a password changed meanwhile wins."""
        return await self._db.execute(
            "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ? AND password_hash = ?",
            (new_hash, now, user_id, old_hash),
        )

    async def set_display_name(self, user_id: str, display_name: str | None, now: float) -> None:
        await self._db.execute(
            "UPDATE users SET display_name = ?, updated_at = ? WHERE id = ?",
            (display_name, now, user_id),
        )

    async def set_role(self, user_id: str, role: str, now: float) -> None:
        await self._db.execute(
            "UPDATE users SET role = ?, updated_at = ? WHERE id = ?", (role, now, user_id)
        )

    async def set_disabled(self, user_id: str, disabled: bool, now: float) -> None:
        await self._db.execute(
            "UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?",
            (int(disabled), now, user_id),
        )

    # Sessions

    async def insert_session(
        self,
        *,
        id: str,
        user_id: str,
        now: float,
        expires_at: float,
        user_agent: str,
        address: str,
    ) -> None:
        await self._db.execute(
            f"INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, NULL, ?, ?)",
            (id, user_id, now, now, expires_at, user_agent, address),
        )

    async def session_with_user(self, session_id: str) -> tuple[SessionRow, UserRow] | None:
        row = await self._db.fetch_one(
            f"SELECT {_prefixed('sessions', _SESSION_COLUMNS, 's_')},"
            f" {_prefixed('users', _USER_COLUMNS, 'u_')}"
            " FROM sessions JOIN users ON users.id = sessions.user_id WHERE sessions.id = ?",
            (session_id,),
        )
        if row is None:
            return None
        return SessionRow.from_row(row, "s_"), UserRow.from_row(row, "u_")

    async def active_sessions(self, user_id: str, now: float) -> list[SessionRow]:
        rows = await self._db.fetch_all(
            f"SELECT {_SESSION_COLUMNS} FROM sessions"
            " WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?"
            " ORDER BY created_at DESC, id",
            (user_id, now),
        )
        return [SessionRow.from_row(row) for row in rows]

    async def touch_session(self, session_id: str, now: float) -> None:
        await self._db.execute(
            "UPDATE sessions SET last_used_at = ? WHERE id = ?", (now, session_id)
        )

    async def revoke_session(self, session_id: str, now: float) -> int:
        return await self._db.execute(
            "UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (now, session_id),
        )

    async def revoke_user_sessions(
        self, user_id: str, now: float, *, except_session: str | None = None
    ) -> int:
        return await self._db.execute(
            "UPDATE sessions SET revoked_at = ?"
            " WHERE user_id = ? AND revoked_at IS NULL AND id <> ?",
            (now, user_id, except_session or ""),
        )

    # Refresh tokens

    async def insert_refresh_token(
        self, *, id: str, session_id: str, token_hash: str, now: float, expires_at: float
    ) -> None:
        await self._db.execute(
            "INSERT INTO refresh_tokens (id, session_id, token_hash, created_at, expires_at,"
            " spent_at) VALUES (?, ?, ?, ?, ?, NULL)",
            (id, session_id, token_hash, now, expires_at),
        )

    async def refresh_token(self, token_id: str) -> RefreshTokenRow | None:
        row = await self._db.fetch_one(
            "SELECT refresh_tokens.id AS t_id, refresh_tokens.token_hash AS t_token_hash,"
            " refresh_tokens.expires_at AS t_expires_at, refresh_tokens.spent_at AS t_spent_at,"
            f" {_prefixed('sessions', _SESSION_COLUMNS, 's_')}"
            " FROM refresh_tokens JOIN sessions ON sessions.id = refresh_tokens.session_id"
            " WHERE refresh_tokens.id = ?",
            (token_id,),
        )
        if row is None:
            return None
        spent = row["t_spent_at"]
        return RefreshTokenRow(
            id=row["t_id"],
            session=SessionRow.from_row(row, "s_"),
            token_hash=row["t_token_hash"],
            expires_at=float(row["t_expires_at"]),
            spent_at=None if spent is None else float(spent),
        )

    async def spend_refresh_token(self, token_id: str, now: float) -> bool:
        """Mark the token spent; False when another request spent it first."""
        changed = await self._db.execute(
            "UPDATE refresh_tokens SET spent_at = ? WHERE id = ? AND spent_at IS NULL",
            (now, token_id),
        )
        return changed == 1

    # Password resets

    async def insert_reset_token(
        self, *, id: str, user_id: str, token_hash: str, now: float, expires_at: float
    ) -> None:
        await self._db.execute(
            "INSERT INTO password_resets (id, user_id, token_hash, created_at, expires_at,"
            " used_at) VALUES (?, ?, ?, ?, ?, NULL)",
            (id, user_id, token_hash, now, expires_at),
        )

    async def reset_token(self, token_id: str) -> ResetTokenRow | None:
        row = await self._db.fetch_one(
            "SELECT id, user_id, token_hash, expires_at, used_at FROM password_resets WHERE id = ?",
            (token_id,),
        )
        if row is None:
            return None
        used = row["used_at"]
        return ResetTokenRow(
            id=row["id"],
            user_id=row["user_id"],
            token_hash=row["token_hash"],
            expires_at=float(row["expires_at"]),
            used_at=None if used is None else float(used),
        )

    async def use_reset_token(self, token_id: str, now: float) -> bool:
        """Mark the token used; False when it was used already (single use)."""
        changed = await self._db.execute(
            "UPDATE password_resets SET used_at = ? WHERE id = ? AND used_at IS NULL",
            (now, token_id),
        )
        return changed == 1

    async def use_reset_tokens_of(self, user_id: str, now: float) -> int:
        """Mark every unused reset token of the user used: none outlives a password change."""
        return await self._db.execute(
            "UPDATE password_resets SET used_at = ? WHERE user_id = ? AND used_at IS NULL",
            (now, user_id),
        )

    # Housekeeping

    async def purge(self, now: float) -> int:
        """Delete expired or revoked sessions, expired refresh tokens, spent reset tokens."""
        removed = 0
        removed += await self._db.execute(
            "DELETE FROM refresh_tokens WHERE expires_at <= ? OR session_id IN"
            " (SELECT id FROM sessions WHERE expires_at <= ? OR revoked_at IS NOT NULL)",
            (now, now),
        )
        removed += await self._db.execute(
            "DELETE FROM sessions WHERE expires_at <= ? OR revoked_at IS NOT NULL", (now,)
        )
        removed += await self._db.execute(
            "DELETE FROM password_resets WHERE expires_at <= ? OR used_at IS NOT NULL", (now,)
        )
        return removed
