"""HTTP routes for accounts: registration, login, token refresh, logout, password reset,
the caller's profile and sessions, public profiles and user administration."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from pydantic.config import JsonDict
from quart import Blueprint, request
from quart_schema import tag_blueprint, validate_querystring, validate_request, validate_response

from veza.accounts import (
    Client,
    Grant,
    Permission,
    Role,
    SessionRow,
    Throttle,
    UserRow,
    policy,
)
from veza.errors import InvalidToken
from veza.transport import refresh_cookie
from veza.transport.context import edge, services
from veza.transport.guard import current_principal, public, require
from veza.transport.openapi import errors, responds
from veza.transport.pagination import Page, PageQuery, page_of
from veza.transport.timestamps import utc

blueprint = Blueprint("auth", __name__)
tag_blueprint(blueprint, ["accounts"])

# Generous upper bounds on what is parsed at all; the account policy has the real rules,
# which the document states (json_schema_extra) and the policy enforces with its own messages.
_SHORT = 320
_PASSWORD = 4096
_TOKEN = 512
_USERNAME_RULE: JsonDict = {"pattern": f"^{policy.USERNAME_PATTERN.pattern}$"}
_EMAIL_RULE: JsonDict = {"format": "email", "maxLength": policy.EMAIL_MAX_CHARS}
_PASSWORD_RULE: JsonDict = {
    "minLength": policy.PASSWORD_MIN_CHARS,
    "maxLength": policy.PASSWORD_MAX_CHARS,
}


class PublicUser(BaseModel):
    id: str
    username: str
    display_name: str | None
    role: Role
    created_at: datetime

    @classmethod
    def of(cls, user: UserRow) -> PublicUser:
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=Role(user.role),
            created_at=utc(user.created_at),
        )


class Me(PublicUser):
    email: str

    @classmethod
    def of(cls, user: UserRow) -> Me:
        return cls(**PublicUser.of(user).model_dump(), email=user.email)


class Storage(BaseModel):
    usage_bytes: int = Field(
        description="what the user's tracks take: originals, renditions, covers"
    )
    quota_bytes: int | None = Field(description="what they may take; null: no limit")


class MeWithStorage(Me, Storage):
    @classmethod
    async def of_user(cls, user: UserRow) -> MeWithStorage:
        usage = await services().quotas.usage(user)
        return cls(
            **Me.of(user).model_dump(),
            usage_bytes=usage.used_bytes,
            quota_bytes=usage.quota_bytes,
        )


class AdminUser(Me, Storage):
    disabled: bool

    @classmethod
    async def of_users(cls, users: list[UserRow]) -> list[AdminUser]:
        usages = await services().quotas.usages(users)
        return [
            cls(
                **Me.of(user).model_dump(),
                disabled=user.disabled,
                usage_bytes=usages[user.id].used_bytes,
                quota_bytes=usages[user.id].quota_bytes,
            )
            for user in users
        ]

    @classmethod
    async def of_user(cls, user: UserRow) -> AdminUser:
        return (await cls.of_users([user]))[0]


class TokenPair(BaseModel):
    user: Me
    access_token: str
    refresh_token: str | None = Field(
        description="null when it was set in the refresh cookie instead (refresh_cookie)"
    )
    token_type: str = "Bearer"
    expires_in: int = Field(description="seconds until the access token expires")

    @classmethod
    def of(cls, grant: Grant, *, in_cookie: bool = False) -> TokenPair:
        return cls(
            user=Me.of(grant.user),
            access_token=grant.access_token,
            refresh_token=None if in_cookie else grant.refresh_token,
            expires_in=grant.expires_in,
        )


_COOKIE_FIELD = Field(
    default=False,
    description="set the refresh token in an HttpOnly cookie (the browser client) rather "
    "than in the body; docs/security.md",
)


def _granted(grant: Grant, in_cookie: bool) -> tuple[TokenPair, dict[str, str]]:
    """The answer to a sign-in: the pair, the refresh token in the body or in the cookie."""
    headers = refresh_cookie.set_cookie_header(grant.refresh_token) if in_cookie else {}
    return TokenPair.of(grant, in_cookie=in_cookie), headers


class RegisterRequest(BaseModel):
    email: str = Field(max_length=_SHORT, json_schema_extra=_EMAIL_RULE)
    username: str = Field(max_length=_SHORT, json_schema_extra=_USERNAME_RULE)
    password: str = Field(
        max_length=_PASSWORD,
        json_schema_extra=_PASSWORD_RULE,
        description="not a common password, nor one built on the username or email address",
    )
    refresh_cookie: bool = _COOKIE_FIELD


class LoginRequest(BaseModel):
    login: str = Field(max_length=_SHORT, description="the email address or the username")
    password: str = Field(max_length=_PASSWORD)
    refresh_cookie: bool = _COOKIE_FIELD


class RefreshRequest(BaseModel):
    refresh_token: str | None = Field(
        default=None,
        max_length=_TOKEN,
        description="omitted or null: the refresh cookie's, with the X-Veza-CSRF: 1 header",
    )
    refresh_cookie: bool = Field(
        default=False,
        description="set the new refresh token in the cookie rather than in the body (always "
        "so when the refresh was made with the cookie)",
    )


class ResetRequest(BaseModel):
    email: str = Field(max_length=_SHORT)


class ResetConfirmation(BaseModel):
    token: str = Field(max_length=_TOKEN)
    password: str = Field(max_length=_PASSWORD, json_schema_extra=_PASSWORD_RULE)


class ProfileChange(BaseModel):
    display_name: str | None = Field(
        default=None,
        max_length=_SHORT,
        description=f"at most {policy.DISPLAY_NAME_MAX_CHARS} printable characters; null clears it",
    )
    password: str | None = Field(
        default=None, max_length=_PASSWORD, description="the new password (needs current_password)"
    )
    current_password: str | None = Field(default=None, max_length=_PASSWORD)


class SessionInfo(BaseModel):
    id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str
    address: str
    current: bool

    @classmethod
    def of(cls, session: SessionRow, current_id: str) -> SessionInfo:
        return cls(
            id=session.id,
            created_at=utc(session.created_at),
            last_used_at=utc(session.last_used_at),
            expires_at=utc(session.expires_at),
            user_agent=session.user_agent,
            address=session.address,
            current=session.id == current_id,
        )


class Sessions(BaseModel):
    items: list[SessionInfo]


class NewUser(RegisterRequest):
    role: Role = Role.USER


class UserAdministration(BaseModel):
    role: Role | None = None
    disabled: bool | None = None
    quota_bytes: int | None = Field(
        default=None,
        ge=0,
        le=2**62,
        description="the user's storage quota in bytes; null: the configured default again "
        "(absent: unchanged). Admins have none whatever it says",
    )


class Accepted(BaseModel):
    status: Literal["accepted"] = "accepted"


def _client() -> Client:
    return Client(
        address=request.remote_addr or "unknown",
        user_agent=request.headers.get("User-Agent", ""),
    )


def _limit(action: str, account: str | None) -> None:
    edge().auth_limits.check(action, address=_client().address, account=account)


def _throttle(action: str) -> Throttle:
    """Take from the address bucket now; the account buckets once the service has resolved
    the account (so an email and a username of one user share them)."""
    limits, address = edge().auth_limits, _client().address
    limits.check_address(action, address)
    return lambda account: limits.check_account(action, address=address, account=account)


@blueprint.post("/api/v1/auth/register")
@public
@errors(
    403,
    409,
    429,
    why={
        403: "forbidden: registration is closed (the `registration` setting)",
        409: "conflict: the username or the email address is taken",
    },
)
@validate_request(RegisterRequest)
@validate_response(TokenPair, 201)
async def register(data: RegisterRequest) -> tuple[TokenPair, int, dict[str, str]]:
    """Create an account (role: user) and sign in."""
    _limit("register", policy.username_key(data.username))
    grant = await services().accounts.register(
        email=data.email, username=data.username, password=data.password, client=_client()
    )
    pair, headers = _granted(grant, data.refresh_cookie)
    return pair, 201, headers


@blueprint.post("/api/v1/auth/login")
@public
@errors(
    401,
    403,
    429,
    why={
        401: "invalid_credentials: the login or the password is wrong",
        403: "forbidden: the account is disabled",
    },
)
@validate_request(LoginRequest)
@validate_response(TokenPair)
async def login(data: LoginRequest) -> tuple[TokenPair, int, dict[str, str]]:
    """Sign in with an email address or a username: a new session."""
    throttle = _throttle("login")
    grant = await services().accounts.login(
        login=data.login, password=data.password, client=_client(), throttle=throttle
    )
    pair, headers = _granted(grant, data.refresh_cookie)
    return pair, 200, headers


@blueprint.post("/api/v1/auth/refresh")
@public
@errors(
    401,
    403,
    429,
    why={
        401: "invalid_token: the refresh token is invalid, expired, spent or revoked, or "
        "none was given (neither in the body nor in the cookie); the cookie is cleared",
        403: "forbidden: a refresh by cookie without the X-Veza-CSRF: 1 header, or from "
        "another origin's page",
    },
)
@validate_request(RefreshRequest)
@validate_response(TokenPair)
async def refresh(data: RefreshRequest) -> tuple[TokenPair, int, dict[str, str]]:
    """A new token pair; the refresh token presented is spent. Presenting a spent one
    revokes the whole session. Without `refresh_token`, the token of the refresh cookie (see
    `refresh_cookie` on login), and the new one goes there too."""
    throttle = _throttle("refresh")
    token, in_cookie = data.refresh_token, data.refresh_cookie
    if token is None:
        token, in_cookie = refresh_cookie.cookie_token(), True
        if token is None:
            raise InvalidToken("no refresh token: neither in the body nor in the cookie")
    try:
        grant = await services().accounts.refresh(token, throttle)
    except InvalidToken as error:
        if data.refresh_token is None:  # the cookie's token is spent for good: forget it
            error.headers.update(refresh_cookie.clear_cookie_header())
        raise
    pair, headers = _granted(grant, in_cookie)
    return pair, 200, headers


@blueprint.post("/api/v1/auth/logout")
@require()
@responds(204, "the session is revoked", headers={"Set-Cookie": "clears the refresh cookie"})
async def logout() -> tuple[str, int, dict[str, str]]:
    """Revoke the current session, and clear the refresh cookie if there is one."""
    await services().accounts.logout(current_principal())
    return "", 204, refresh_cookie.clear_cookie_header()


@blueprint.post("/api/v1/auth/password-reset")
@public
@errors(429)
@validate_request(ResetRequest)
@validate_response(Accepted, 202)
async def password_reset(data: ResetRequest) -> tuple[Accepted, int]:
    """Ask for a password-reset email.
    Always 202: whether the address belongs to anyone is never revealed."""
    _limit("password_reset", policy.email_key(data.email))
    services().password_resets.request(data.email)
    return Accepted(), 202


@blueprint.post("/api/v1/auth/password-reset/confirm")
@public
@errors(
    422,
    why={422: "validation_failed: the token is invalid, expired or used, or the password is weak"},
)
@responds(204, "the password is set; every session of the user is revoked")
@validate_request(ResetConfirmation)
async def password_reset_confirm(data: ResetConfirmation) -> tuple[str, int]:
    """Set a new password with the token from a reset email."""
    await services().accounts.confirm_password_reset(data.token, data.password)
    return "", 204


@blueprint.get("/api/v1/me")
@require()
@validate_response(MeWithStorage)
async def me() -> MeWithStorage:
    """The caller's account, with the storage their tracks take and their quota."""
    principal = current_principal()
    return await MeWithStorage.of_user(principal.user)


@blueprint.patch("/api/v1/me")
@require()
@errors(
    403,
    429,
    why={
        403: "forbidden: current_password is wrong",
        429: "rate_limited: too many password changes",
    },
)
@validate_request(ProfileChange)
@validate_response(Me)
async def update_me(data: ProfileChange) -> Me:
    """Change the display name, or the password (with the current one: every other session
    is revoked)."""
    changes = data.model_fields_set
    principal = current_principal()
    if data.password is not None:
        # A stolen access token must not become a fast oracle for the current password.
        _limit("password_change", principal.user.id)
    user = await services().accounts.update_profile(
        principal,
        display_name=data.display_name if "display_name" in changes else ...,
        password=data.password,
        current_password=data.current_password,
    )
    return Me.of(user)


@blueprint.get("/api/v1/me/sessions")
@require()
@validate_response(Sessions)
async def my_sessions() -> Sessions:
    """The caller's open sessions."""
    principal = current_principal()
    rows = await services().accounts.sessions(principal)
    return Sessions(items=[SessionInfo.of(row, principal.session_id) for row in rows])


@blueprint.delete("/api/v1/me/sessions/<session_id>")
@require()
@responds(204, "the session is revoked")
async def revoke_my_session(session_id: str) -> tuple[str, int]:
    """Revoke one of the caller's sessions (sign out another device)."""
    await services().accounts.revoke_session(current_principal(), session_id)
    return "", 204


class UserLookup(BaseModel):
    username: str = Field(min_length=1, max_length=64, description="an exact username")


class UsersFound(BaseModel):
    items: list[PublicUser] = Field(description="the user of that username, or none")


@blueprint.get("/api/v1/users")
@require(Permission.READ)
@validate_querystring(UserLookup)
@validate_response(UsersFound)
async def find_users(query_args: UserLookup) -> UsersFound:
    """The user of an exact username (to start a conversation or share with them): an empty
    list when there is none. Exact, not a prefix, so the accounts cannot be listed."""
    user = await services().accounts.user_by_username(query_args.username)
    return UsersFound(items=[] if user is None else [PublicUser.of(user)])


@blueprint.get("/api/v1/users/<user_id>")
@require(Permission.READ)
@validate_response(PublicUser)
async def user_profile(user_id: str) -> PublicUser:
    """A user's public profile."""
    return PublicUser.of(await services().accounts.user(user_id))


@blueprint.get("/api/v1/admin/users")
@require(Permission.MANAGE_USERS)
@validate_querystring(PageQuery)
@validate_response(Page[AdminUser])
async def list_users(query_args: PageQuery) -> Page[AdminUser]:
    """Every account, newest first (admin)."""
    items, next_cursor = await page_of(
        query_args,
        (float, str),
        services().accounts.list_users,
        lambda user: (user.created_at, user.id),
    )
    return Page[AdminUser](items=await AdminUser.of_users(items), next_cursor=next_cursor)


@blueprint.patch("/api/v1/admin/users/<user_id>")
@require(Permission.MANAGE_USERS)
@errors(409, why={409: "conflict: an admin cannot demote or disable their own account"})
@validate_request(UserAdministration)
@validate_response(AdminUser)
async def administer_user(user_id: str, data: UserAdministration) -> AdminUser:
    """Change a user's role, disable the account, or set their storage quota (admin)."""
    user = await services().accounts.administer(
        current_principal(), user_id, role=data.role, disabled=data.disabled
    )
    if "quota_bytes" in data.model_fields_set:
        await services().quotas.set_quota(user_id, data.quota_bytes)
    return await AdminUser.of_user(user)


@blueprint.post("/api/v1/admin/users")
@require(Permission.MANAGE_USERS)
@errors(409, why={409: "conflict: the username or the email address is taken"})
@validate_request(NewUser)
@validate_response(AdminUser, 201)
async def create_user(data: NewUser) -> tuple[AdminUser, int]:
    """Create an account (the way in when registration is closed); no session is opened."""
    user = await services().accounts.create_user(
        email=data.email, username=data.username, password=data.password, role=data.role
    )
    return await AdminUser.of_user(user), 201
