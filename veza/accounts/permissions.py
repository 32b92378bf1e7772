"""Roles and the permission table: the one place that says who may do what."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    MODERATOR = "moderator"
    ARTIST = "artist"
    PREMIUM = "premium"
    USER = "user"
    GUEST = "guest"


class Permission(StrEnum):
    READ = "read"  # browse the library, profiles and public playlists
    SEE_UNLISTED = "see_unlisted"  # open an unlisted track (or playlist) by its id or link
    STREAM = "stream"
    UPLOAD = "upload"
    CREATE_PLAYLISTS = "create_playlists"
    CHAT = "chat"
    STREAM_HIGH_QUALITY = "stream_high_quality"
    PUBLISH = "publish"  # present tracks on an artist profile
    MODERATE = "moderate"  # remove other people's tracks, messages and playlists
    MANAGE_USERS = "manage_users"


_GUEST = frozenset({Permission.READ, Permission.STREAM})
_USER = _GUEST | {
    Permission.SEE_UNLISTED,
    Permission.UPLOAD,
    Permission.CREATE_PLAYLISTS,
    Permission.CHAT,
}

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.GUEST: _GUEST,
    Role.USER: _USER,
    Role.PREMIUM: _USER | {Permission.STREAM_HIGH_QUALITY},
    Role.ARTIST: _USER | {Permission.STREAM_HIGH_QUALITY, Permission.PUBLISH},
    Role.MODERATOR: _USER | {Permission.MODERATE},
    Role.ADMIN: frozenset(Permission),
}

DEFAULT_ROLE = Role.USER


def allows(role: Role | str, permission: Permission) -> bool:
    """Deny by default: an unknown role or a permission missing from the table is refused."""
    try:
        return permission in PERMISSIONS[Role(role)]
    except ValueError:
        return False
