"""The accounts repository on every backend: unique keys, sessions, spending tokens once,
keyset pagination and the purge."""

from __future__ import annotations

import pytest

from veza.store import Store
from veza.store.accounts import AccountsRepository
from veza.store.database import Database, IntegrityError
from veza.store.migrations import migrate


@pytest.fixture
async def store(database: Database) -> Store:
    await migrate(database)
    return Store(database)


@pytest.fixture
def repo(store: Store) -> AccountsRepository:
    return store.accounts


async def add_user(repo: AccountsRepository, n: int, now: float = 1.0) -> str:
    user_id = f"{n:032x}"
    await repo.insert_user(
        id=user_id,
        username=f"User{n}",
        username_key=f"user{n}",
        email=f"user{n}@example.org",
        email_key=f"user{n}@example.org",
        password_hash="$argon2id$placeholder",
        role="user",
        now=now,
    )
    return user_id


async def test_username_and_email_keys_are_unique(repo: AccountsRepository) -> None:
    await add_user(repo, 1)
    for username_key, email_key in [("user1", "other@example.org"), ("other", "user1@example.org")]:
        with pytest.raises(IntegrityError):
            await repo.insert_user(
                id="f" * 32,
                username="x",
                username_key=username_key,
                email="x",
                email_key=email_key,
                password_hash="h",
                role="user",
                now=1.0,
            )
    found = await repo.user_by_username_key("user1")
    assert found is not None and found.username == "User1" and found.disabled is False


async def test_an_upgraded_hash_never_overwrites_a_changed_password(
    repo: AccountsRepository,
) -> None:
    user_id = await add_user(repo, 1)
    assert await repo.upgrade_password_hash(user_id, "$argon2id$placeholder", "new", 2.0) == 1
    await repo.set_password_hash(user_id, "changed", 3.0)
    assert await repo.upgrade_password_hash(user_id, "new", "rehashed", 4.0) == 0
    found = await repo.user(user_id)
    assert found is not None and found.password_hash == "changed"


@pytest.mark.slow
async def test_tokens_are_spent_once_and_sessions_revoked(
    store: Store, repo: AccountsRepository
) -> None:
    user_id = await add_user(repo, 1)
    async with store.transaction() as tx:
        await tx.accounts.insert_session(
            id="a" * 32, user_id=user_id, now=10.0, expires_at=100.0, user_agent="ua", address="::1"
        )
        await tx.accounts.insert_refresh_token(
            id="t1", session_id="a" * 32, token_hash="d1", now=10.0, expires_at=50.0
        )
    token = await repo.refresh_token("t1")
    assert token is not None and token.session.user_id == user_id and token.spent_at is None
    assert await repo.spend_refresh_token("t1", 11.0)
    assert not await repo.spend_refresh_token("t1", 12.0)
    found = await repo.session_with_user("a" * 32)
    assert found is not None and found[1].id == user_id
    assert [s.id for s in await repo.active_sessions(user_id, 20.0)] == ["a" * 32]
    assert await repo.revoke_user_sessions(user_id, 21.0, except_session="a" * 32) == 0
    assert await repo.revoke_session("a" * 32, 21.0) == 1
    assert await repo.active_sessions(user_id, 22.0) == []


async def test_users_page_in_creation_order(repo: AccountsRepository) -> None:
    ids = [await add_user(repo, n, now=float(n // 2)) for n in range(5)]  # ties on created_at
    first = await repo.list_users(None, 3)
    rest = await repo.list_users((first[-1].created_at, first[-1].id), 3)
    assert [u.id for u in first + rest] == ids


async def test_purge_removes_what_is_over(store: Store, repo: AccountsRepository) -> None:
    user_id = await add_user(repo, 1)
    for n, (expires, revoked) in enumerate([(100.0, False), (5.0, False), (100.0, True)]):
        session_id = f"{n:032x}"
        await repo.insert_session(
            id=session_id, user_id=user_id, now=1.0, expires_at=expires, user_agent="", address=""
        )
        await repo.insert_refresh_token(
            id=f"t{n}", session_id=session_id, token_hash="d", now=1.0, expires_at=expires
        )
        if revoked:
            await repo.revoke_session(session_id, 2.0)
    await repo.insert_reset_token(id="r1", user_id=user_id, token_hash="d", now=1.0, expires_at=5.0)
    await repo.insert_reset_token(
        id="r2", user_id=user_id, token_hash="d", now=1.0, expires_at=50.0
    )
    async with store.transaction() as tx:
        assert await tx.accounts.purge(10.0) == 2 + 2 + 1
    assert [s.id for s in await repo.active_sessions(user_id, 10.0)] == [f"{0:032x}"]
    assert await repo.refresh_token("t0") is not None
    assert await repo.reset_token("r1") is None
    assert await repo.reset_token("r2") is not None
