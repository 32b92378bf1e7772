"""The accounts service: registration, login, sessions and their tokens, profile changes,
password resets and user administration. Knows nothing of HTTP; persists through the store."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import EllipsisType

from veza.accounts import policy
from veza.accounts.events import SessionRevoked, user_topic
from veza.accounts.passwords import PasswordHasher
from veza.accounts.permissions import DEFAULT_ROLE, Permission, Role, allows
from veza.accounts.tokens import (
    AccessTokens,
    OpaqueToken,
    TokenError,
    new_opaque_token,
    same_digest,
    split_opaque_token,
)
from veza.config import Settings
from veza.errors import (
    Conflict,
    Forbidden,
    InvalidCredentials,
    InvalidToken,
    NotFound,
    ValidationFailed,
)
from veza.events import EventBus
from veza.store import Store, Transaction
from veza.store.accounts import SessionRow, UserRow
from veza.store.database import IntegrityError

# Authentication events (ASVS 16.3.1): ids only, never passwords or tokens.
log = logging.getLogger("veza.audit")

# last_used_at is written at most this often per session, not on every request.
_TOUCH_EVERY_SECONDS = 60.0
_USER_AGENT_MAX_CHARS = 256

Throttle = Callable[[str], None]
"""Called with the account a request concerns, once the service knows it and before the costly
work; raises (RateLimited) to refuse the request. The account is a user id, or for a login that
names nobody, `unknown:` and the normalised login."""


def _unthrottled(account: str) -> None:
    pass


@dataclass(frozen=True)
class Client:
    """Where a request came from, recorded on the session it opens."""

    address: str
    user_agent: str


@dataclass(frozen=True)
class Grant:
    user: UserRow
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    user: UserRow
    session_id: str

    @property
    def role(self) -> Role:
        return Role(self.user.role)

    def can(self, permission: Permission) -> bool:
        return allows(self.user.role, permission)


class Accounts:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        hasher: PasswordHasher,
        secret: str,
        clock: Callable[[], float] = time.time,
        events: EventBus | None = None,
    ) -> None:
        """`events`, when given, hears of every session revoked (`SessionRevoked`), so the
        session's live connections (WebSockets) can close."""
        self._store = store
        self._events = events
        self._hasher = hasher
        self._clock = clock
        self._tokens = AccessTokens(secret, settings.access_token_ttl_seconds)
        self._refresh_ttl = settings.refresh_token_ttl_seconds
        self._session_lifetime = settings.session_lifetime_seconds
        self._reuse_grace = settings.refresh_reuse_grace_seconds
        self._registration_open = settings.registration == "open"

    # Accounts

    async def create_user(
        self, *, email: str, username: str, password: str, role: Role = DEFAULT_ROLE
    ) -> UserRow:
        user, _ = await self._create(email, username, password, role, client=None)
        return user

    async def register(self, *, email: str, username: str, password: str, client: Client) -> Grant:
        """Self-service sign-up, when the server is open to it; otherwise admins create
        accounts (`create_user`)."""
        if not self._registration_open:
            raise Forbidden("registration is closed: ask an administrator for an account")
        _, grant = await self._create(email, username, password, DEFAULT_ROLE, client)
        assert grant is not None
        return grant

    async def _create(
        self, email: str, username: str, password: str, role: Role, client: Client | None
    ) -> tuple[UserRow, Grant | None]:
        username = policy.check_username(username)
        email = policy.check_email(email)
        policy.check_password(password, context=(username, email, email.partition("@")[0]))
        password_hash = await self._hasher.hash(password)
        now = self._clock()
        user_id = secrets.token_hex(16)
        try:
            async with self._store.transaction() as tx:
                await tx.accounts.insert_user(
                    id=user_id,
                    username=username,
                    username_key=policy.username_key(username),
                    email=email,
                    email_key=policy.email_key(email),
                    password_hash=password_hash,
                    role=role.value,
                    now=now,
                )
                user = await tx.accounts.user(user_id)
                assert user is not None
                grant = None if client is None else await self._open_session(tx, user, client, now)
        except IntegrityError:
            if await self._store.accounts.user_by_username_key(policy.username_key(username)):
                raise Conflict("username: already taken") from None
            raise Conflict("email: already registered") from None
        log.info("account created: user %s, role %s", user.id, user.role)
        return user, grant

    async def user(self, user_id: str) -> UserRow:
        user = await self._store.accounts.user(user_id) if policy.looks_like_id(user_id) else None
        if user is None:
            raise NotFound("no such user")
        return user

    async def user_by_username(self, username: str) -> UserRow | None:
        """The account of that exact username (case and Unicode forms folded as at sign-in),
        None when there is none or it is disabled."""
        if "@" in username or not username.isprintable():
            return None
        user = await self._store.accounts.user_by_username_key(policy.username_key(username))
        return None if user is None or user.disabled else user

    # Sessions

    async def login(
        self, *, login: str, password: str, client: Client, throttle: Throttle = _unthrottled
    ) -> Grant:
        """Unknown login and wrong password: the same lookup and hashing work, the same error.
        `throttle` sees the user's id whichever login form names them."""
        kind, key = policy.login_key(login)
        if not key.isprintable():
            user = None  # no account has such a name; spare the database the question
        elif kind == "email":
            user = await self._store.accounts.user_by_email_key(key)
        else:
            user = await self._store.accounts.user_by_username_key(key)
        throttle(f"unknown:{key}" if user is None else user.id)
        if user is None:
            await self._hasher.verify_decoy(password)
            log.info("login failed: no such account (from %s)", client.address)
            raise InvalidCredentials()
        if not await self._hasher.verify(user.password_hash, password):
            log.info("login failed: wrong password for user %s (from %s)", user.id, client.address)
            raise InvalidCredentials()
        if user.disabled:
            log.info("login refused: user %s is disabled (from %s)", user.id, client.address)
            raise Forbidden("this account is disabled")
        # The stored hash used older parameters: upgrade it while the password is known,
        # hashing before the transaction so argon2 never holds the write lock.
        new_hash = None
        if self._hasher.needs_rehash(user.password_hash):
            new_hash = await self._hasher.hash(password)
        now = self._clock()
        async with self._store.transaction() as tx:
            if new_hash is not None:
                await tx.accounts.upgrade_password_hash(user.id, user.password_hash, new_hash, now)
            grant = await self._open_session(tx, user, client, now)
        log.info("login: user %s (from %s)", user.id, client.address)
        return grant

    async def _open_session(
        self, tx: Transaction, user: UserRow, client: Client, now: float
    ) -> Grant:
        session_id = secrets.token_hex(16)
        expires_at = now + self._session_lifetime
        await tx.accounts.insert_session(
            id=session_id,
            user_id=user.id,
            now=now,
            expires_at=expires_at,
            user_agent=client.user_agent[:_USER_AGENT_MAX_CHARS],
            address=client.address,
        )
        refresh = await self._new_refresh_token(tx, session_id, now, expires_at)
        return self._grant(user, session_id, refresh, now)

    async def _new_refresh_token(
        self, tx: Transaction, session_id: str, now: float, session_expires_at: float
    ) -> OpaqueToken:
        refresh = new_opaque_token()
        await tx.accounts.insert_refresh_token(
            id=refresh.id,
            session_id=session_id,
            token_hash=refresh.digest,
            now=now,
            expires_at=min(now + self._refresh_ttl, session_expires_at),
        )
        return refresh

    def _grant(self, user: UserRow, session_id: str, refresh: OpaqueToken, now: float) -> Grant:
        return Grant(
            user=user,
            access_token=self._tokens.issue(user.id, session_id, now),
            refresh_token=refresh.token,
            expires_in=self._tokens.ttl_seconds,
        )

    async def refresh(self, refresh_token: str, throttle: Throttle = _unthrottled) -> Grant:
        """A new pair for an unspent refresh token. A spent one presented again revokes the
        session (it was stolen or replayed), unless within the short grace window that lets two
        concurrent refreshes of one client both succeed. `throttle` sees the id of the token's
        user once its secret matches; a token that does not verify names nobody."""
        parts = split_opaque_token(refresh_token)
        if parts is None:
            raise InvalidToken()
        token_id, presented = parts
        now = self._clock()
        reused = False
        async with self._store.transaction() as tx:
            row = await tx.accounts.refresh_token(token_id)
            if row is None or not same_digest(row.token_hash, presented):
                raise InvalidToken()
            session = row.session
            throttle(session.user_id)
            if not session.usable(now) or row.expires_at <= now:
                raise InvalidToken()
            user = await tx.accounts.user(session.user_id)
            if user is None or user.disabled:
                raise InvalidToken()
            spent_now = row.spent_at is None and await tx.accounts.spend_refresh_token(row.id, now)
            if not spent_now:
                spent_at = now if row.spent_at is None else row.spent_at
                if now - spent_at > self._reuse_grace:
                    await tx.accounts.revoke_session(session.id, now)
                    reused = True
            if not reused:
                await tx.accounts.touch_session(session.id, now)
                refresh = await self._new_refresh_token(tx, session.id, now, session.expires_at)
                grant = self._grant(user, session.id, refresh, now)
        # Raised after the commit: the revocation must stick.
        if reused:
            self._revoked(SessionRevoked(session.user_id, session.id))
            log.warning("refresh token reused: session %s of user %s revoked", session.id, user.id)
            raise InvalidToken("refresh token reused; the session is revoked")
        return grant

    async def authenticate(self, access_token: str) -> Principal:
        """The caller behind an access token, checked against its session on every request, so
        a logout or a revocation takes effect from the next request on."""
        now = self._clock()
        try:
            claims = self._tokens.decode(access_token, now)
        except TokenError:
            raise InvalidToken() from None
        found = await self._store.accounts.session_with_user(claims.session_id)
        if found is None:
            raise InvalidToken()
        session, user = found
        if session.user_id != claims.user_id or not session.usable(now) or user.disabled:
            raise InvalidToken()
        if now - session.last_used_at > _TOUCH_EVERY_SECONDS:
            await self._store.accounts.touch_session(session.id, now)
        return Principal(user, session.id)

    async def logout(self, principal: Principal) -> None:
        await self._store.accounts.revoke_session(principal.session_id, self._clock())
        self._revoked(SessionRevoked(principal.user.id, principal.session_id))
        log.info("logout: user %s", principal.user.id)

    async def sessions(self, principal: Principal) -> list[SessionRow]:
        return await self._store.accounts.active_sessions(principal.user.id, self._clock())

    async def revoke_session(self, principal: Principal, session_id: str) -> None:
        found = None
        if policy.looks_like_id(session_id):
            found = await self._store.accounts.session_with_user(session_id)
        now = self._clock()
        if found is None or found[0].user_id != principal.user.id or not found[0].usable(now):
            raise NotFound("no such session")
        await self._store.accounts.revoke_session(session_id, now)
        self._revoked(SessionRevoked(principal.user.id, session_id))
        log.info("session revoked by user %s", principal.user.id)

    # Profile and passwords

    async def update_profile(
        self,
        principal: Principal,
        *,
        display_name: str | EllipsisType | None = ...,
        password: str | None = None,
        current_password: str | None = None,
    ) -> UserRow:
        """`...` leaves the display name as it is. A new password needs the current one,
        revokes every other session of the user and spends their outstanding reset tokens."""
        user = principal.user
        if not isinstance(display_name, EllipsisType):
            display_name = policy.check_display_name(display_name)
        new_hash = None
        if password is not None:
            if current_password is None:
                raise ValidationFailed("current_password: required to change the password")
            policy.check_password(password, context=(user.username, user.email))
            if not await self._hasher.verify(user.password_hash, current_password):
                log.info("password change refused: wrong current password, user %s", user.id)
                raise Forbidden("current_password: wrong password")
            new_hash = await self._hasher.hash(password)
        now = self._clock()
        async with self._store.transaction() as tx:
            if not isinstance(display_name, EllipsisType):
                await tx.accounts.set_display_name(user.id, display_name, now)
            if new_hash is not None:
                await tx.accounts.set_password_hash(user.id, new_hash, now)
                await tx.accounts.revoke_user_sessions(
                    user.id, now, except_session=principal.session_id
                )
                revoked = SessionRevoked(user.id, except_session_id=principal.session_id)
                tx.on_commit(lambda: self._revoked(revoked))
                await tx.accounts.use_reset_tokens_of(user.id, now)
            updated = await tx.accounts.user(user.id)
        assert updated is not None
        if new_hash is not None:
            log.info("password changed: user %s; other sessions revoked", user.id)
        return updated

    async def confirm_password_reset(self, token: str, password: str) -> None:
        """Set a new password with a reset token (single use; every other outstanding token of
        the user is spent with it) and revoke every session. Disabled users cannot reset."""
        parts = split_opaque_token(token)
        invalid = ValidationFailed("token: invalid, expired or already used")
        if parts is None:
            raise invalid
        token_id, presented = parts
        row = await self._store.accounts.reset_token(token_id)
        now = self._clock()
        if (
            row is None
            or not same_digest(row.token_hash, presented)
            or row.used_at is not None
            or row.expires_at <= now
        ):
            raise invalid
        user = await self._store.accounts.user(row.user_id)
        if user is None or user.disabled:
            raise invalid
        policy.check_password(password, context=(user.username, user.email))
        new_hash = await self._hasher.hash(password)
        used = False
        async with self._store.transaction() as tx:
            used = await tx.accounts.use_reset_token(token_id, now)
            if used:
                await tx.accounts.set_password_hash(user.id, new_hash, now)
                await tx.accounts.revoke_user_sessions(user.id, now)
                await tx.accounts.use_reset_tokens_of(user.id, now)
                tx.on_commit(lambda: self._revoked(SessionRevoked(user.id)))
        if not used:
            raise invalid
        log.info("password reset: user %s; every session revoked", user.id)

    # Administration

    async def list_users(self, after: tuple[float, str] | None, limit: int) -> list[UserRow]:
        return await self._store.accounts.list_users(after, limit)

    async def administer(
        self,
        admin: Principal,
        user_id: str,
        *,
        role: Role | None = None,
        disabled: bool | None = None,
    ) -> UserRow:
        """Change a user's role or disable them; disabling revokes all their sessions and
        spends their outstanding reset tokens."""
        target = await self.user(user_id)
        if target.id == admin.user.id and ((role is not None and role != Role.ADMIN) or disabled):
            raise Conflict("an admin cannot demote or disable their own account")
        now = self._clock()
        async with self._store.transaction() as tx:
            if role is not None:
                await tx.accounts.set_role(user_id, role.value, now)
            if disabled is not None:
                await tx.accounts.set_disabled(user_id, disabled, now)
                if disabled:
                    await tx.accounts.revoke_user_sessions(user_id, now)
                    await tx.accounts.use_reset_tokens_of(user_id, now)
                    tx.on_commit(lambda: self._revoked(SessionRevoked(user_id)))
            updated = await tx.accounts.user(user_id)
        assert updated is not None
        log.info(
            "user %s changed by admin %s: role %s, disabled %s",
            user_id,
            admin.user.id,
            updated.role,
            updated.disabled,
        )
        return updated

    async def session_alive(self, session_id: str) -> bool:
        """Whether the session can still be used (not revoked, not expired, its user enabled):
        what a long-lived connection checks when it may have missed a `SessionRevoked`."""
        found = await self._store.accounts.session_with_user(session_id)
        if found is None:
            return False
        session, user = found
        return session.usable(self._clock()) and not user.disabled

    def _revoked(self, event: SessionRevoked) -> None:
        if self._events is not None:
            self._events.publish(user_topic(event.user_id), event)

    async def purge_expired(self) -> int:
        """Delete expired and revoked sessions, old refresh tokens and spent reset tokens."""
        async with self._store.transaction() as tx:
            return await tx.accounts.purge(self._clock())
