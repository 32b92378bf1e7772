"""The permission table as a matrix: every role against every permission, written out here
independently of the table in code, so a change to either is a visible decision."""

from __future__ import annotations

import pytest

from veza.accounts import PERMISSIONS, Permission, Role, allows

R, S, U, P, C = "read", "stream", "upload", "create_playlists", "chat"
SU = "see_unlisted"
HQ, PUB, MOD, MAN = "stream_high_quality", "publish", "moderate", "manage_users"

EXPECTED: dict[str, set[str]] = {
    "guest": {R, S},
    "user": {R, SU, S, U, P, C},
    "premium": {R, SU, S, U, P, C, HQ},
    "artist": {R, SU, S, U, P, C, HQ, PUB},
    "moderator": {R, SU, S, U, P, C, MOD},
    "admin": {R, SU, S, U, P, C, HQ, PUB, MOD, MAN},
}


def test_the_matrix_covers_every_role_and_permission() -> None:
    assert set(EXPECTED) == {role.value for role in Role}
    assert set().union(*EXPECTED.values()) == {p.value for p in Permission}
    assert set(PERMISSIONS) == set(Role)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("permission", list(Permission))
def test_role_permission_matrix(role: Role, permission: Permission) -> None:
    assert allows(role, permission) == (permission.value in EXPECTED[role.value])


def test_unknown_roles_are_denied_everything() -> None:
    for permission in Permission:
        assert not allows("superuser", permission)
        assert not allows("", permission)


def test_new_accounts_may_upload_stream_make_playlists_and_chat_but_guests_only_read() -> None:
    assert {p for p in Permission if allows(Role.USER, p)} >= {
        Permission.UPLOAD,
        Permission.STREAM,
        Permission.CREATE_PLAYLISTS,
        Permission.CHAT,
    }
    assert {p for p in Permission if allows(Role.GUEST, p)} == {Permission.READ, Permission.STREAM}
