"""Registration, login, profiles and sessions over real HTTP."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import trio

from tests.support.accounts import PASSWORD, bearer, fast_settings, register
from tests.support.server import RunningServer, assert_error, serving
from veza.config import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path)


async def test_register_answers_201_with_user_and_token_pair(server: RunningServer) -> None:
    body = await register(server.client, "Alice", email="  Alice@Example.ORG ")
    assert set(body) == {"user", "access_token", "refresh_token", "token_type", "expires_in"}
    assert body["expires_in"] == 900
    assert body["token_type"] == "Bearer"
    user = body["user"]
    assert user["username"] == "Alice"
    assert user["email"] == "Alice@example.org"  # trimmed, domain lower-cased
    assert user["role"] == "user"
    me = await server.client.get("/api/v1/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200, me.text
    # The account as registration gave it, and the storage it takes (none yet, no quota).
    assert me.json() == {**user, "usage_bytes": 0, "quota_bytes": None}
    assert set(user) == {"id", "username", "email", "display_name", "role", "created_at"}


async def test_usernames_unique_without_case_and_emails_after_normalising(
    server: RunningServer,
) -> None:
    await register(server.client, "Alice", email="alice@example.org")
    taken = await server.client.post(
        "/api/v1/auth/register",
        json={"email": "other@example.org", "username": "ALICE", "password": PASSWORD},
    )
    assert_error(taken, 409, "conflict")
    assert "username" in taken.json()["error"]["message"]
    same_email = await server.client.post(
        "/api/v1/auth/register",
        json={"email": " ALICE@EXAMPLE.ORG", "username": "alice2", "password": PASSWORD},
    )
    assert_error(same_email, 409, "conflict")
    assert "email" in same_email.json()["error"]["message"]


@pytest.mark.parametrize(
    ("field", "value", "mentions"),
    [
        ("username", "ab", "username"),
        ("username", "a" * 33, "username"),
        ("username", "has space", "username"),
        ("username", "at@sign", "username"),
        ("email", "not-an-email", "email"),
        ("email", "two@@example.org", "email"),
        ("password", "short", "password"),
        ("password", "x" * 1025, "password"),
        ("password", "password123", "common"),
        ("password", "Qwertyuiop", "common"),
        ("password", "iloveyou2024", "common"),
        ("password", "newcomer", "username"),  # the username itself
    ],
)
@pytest.mark.slow
async def test_registration_rules_give_422_naming_the_field(
    server: RunningServer, field: str, value: str, mentions: str
) -> None:
    body = {"email": "newcomer@example.org", "username": "newcomer", "password": PASSWORD}
    body[field] = value
    response = await server.client.post("/api/v1/auth/register", json=body)
    assert_error(response, 422, "validation_failed")
    assert mentions in response.json()["error"]["message"]


async def test_passwords_have_no_composition_rules_and_count_characters(
    server: RunningServer,
) -> None:
    # Lower-case only, spaces, emoji and 1024 characters are all fine (ASVS 6.2.5, 6.2.9).
    await register(server.client, "spaces", password="just some words")
    await register(server.client, "emoji", password="🎵🎶🎵🎶🎵🎶🎵🎶")
    await register(server.client, "longest", password="y" * 1024)


async def test_missing_fields_and_wrong_types_are_422_and_bad_json_400(
    server: RunningServer,
) -> None:
    missing = await server.client.post("/api/v1/auth/register", json={"username": "x"})
    assert_error(missing, 422, "validation_failed")
    wrong = await server.client.post("/api/v1/auth/login", json={"login": 5, "password": ["a"]})
    assert_error(wrong, 422, "validation_failed")
    bad = await server.client.post(
        "/api/v1/auth/login", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert_error(bad, 400, "malformed_json")


async def test_concurrent_registrations_of_one_username_give_one_201_and_one_409(
    server: RunningServer,
) -> None:
    statuses: list[int] = []

    async def attempt(email: str) -> None:
        response = await server.client.post(
            "/api/v1/auth/register",
            json={"email": email, "username": "Racer", "password": PASSWORD},
        )
        statuses.append(response.status_code)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(attempt, "one@example.org")
        nursery.start_soon(attempt, "two@example.org")
    assert sorted(statuses) == [201, 409]


async def test_login_with_username_in_any_case_or_email(server: RunningServer) -> None:
    await register(server.client, "Bob", email="bob@example.org")
    for login in ("Bob", "bob", "BOB", "bob@example.org", "BOB@Example.org"):
        response = await server.client.post(
            "/api/v1/auth/login", json={"login": login, "password": PASSWORD}
        )
        assert response.status_code == 200, (login, response.text)
        assert response.json()["user"]["username"] == "Bob"


async def test_unknown_user_and_wrong_password_fail_identically(server: RunningServer) -> None:
    await register(server.client, "carol")
    wrong = await server.client.post(
        "/api/v1/auth/login", json={"login": "carol", "password": "not the password"}
    )
    unknown = await server.client.post(
        "/api/v1/auth/login", json={"login": "nobody", "password": "not the password"}
    )
    for response in (wrong, unknown):
        assert_error(response, 401, "invalid_credentials")
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]


async def test_public_profile_hides_the_email(server: RunningServer) -> None:
    alice = await register(server.client, "alice")
    bob = await register(server.client, "bob")
    response = await server.client.get(
        f"/api/v1/users/{bob['user']['id']}", headers=bearer(alice["access_token"])
    )
    assert response.status_code == 200
    assert response.json()["username"] == "bob"
    assert "email" not in response.json()
    missing = await server.client.get("/api/v1/users/nope", headers=bearer(alice["access_token"]))
    assert_error(missing, 404, "not_found")


async def test_a_user_is_found_by_exact_username_only(server: RunningServer) -> None:
    alice = await register(server.client, "alice")
    bob = await register(server.client, "Bob.B")
    headers = bearer(alice["access_token"])
    found = await server.client.get("/api/v1/users", params={"username": "bob.b"}, headers=headers)
    assert found.status_code == 200, found.text
    assert [user["id"] for user in found.json()["items"]] == [bob["user"]["id"]]
    assert "email" not in found.json()["items"][0]
    # A prefix, an email address, nobody: no one (accounts cannot be listed this way).
    for name in ("bob", "bob@example.org", "nobody"):
        none = await server.client.get("/api/v1/users", params={"username": name}, headers=headers)
        assert none.json() == {"items": []}, name
    assert_error(
        await server.client.get("/api/v1/users", headers=headers), 422, "validation_failed"
    )
    unsigned = await server.client.get("/api/v1/users", params={"username": "alice"})
    assert unsigned.status_code == 401


async def test_display_name_can_be_set_and_cleared(server: RunningServer) -> None:
    alice = await register(server.client, "alice")
    headers = bearer(alice["access_token"])
    named = await server.client.patch(
        "/api/v1/me", json={"display_name": " Alice A. "}, headers=headers
    )
    assert named.status_code == 200, named.text
    assert named.json()["display_name"] == "Alice A."
    untouched = await server.client.patch("/api/v1/me", json={}, headers=headers)
    assert untouched.json()["display_name"] == "Alice A."
    cleared = await server.client.patch("/api/v1/me", json={"display_name": None}, headers=headers)
    assert cleared.json()["display_name"] is None
    bad = await server.client.patch(
        "/api/v1/me", json={"display_name": "tab\there"}, headers=headers
    )
    assert_error(bad, 422, "validation_failed")


async def test_password_change_needs_the_current_one_and_revokes_other_sessions(
    server: RunningServer,
) -> None:
    first = await register(server.client, "dave")
    second = (
        await server.client.post("/api/v1/auth/login", json={"login": "dave", "password": PASSWORD})
    ).json()
    headers = bearer(first["access_token"])
    new = "a brand new passphrase"
    missing = await server.client.patch("/api/v1/me", json={"password": new}, headers=headers)
    assert_error(missing, 422, "validation_failed")
    wrong = await server.client.patch(
        "/api/v1/me", json={"password": new, "current_password": "wrong one!"}, headers=headers
    )
    assert_error(wrong, 403, "forbidden")
    weak = await server.client.patch(
        "/api/v1/me", json={"password": "letmein123", "current_password": PASSWORD}, headers=headers
    )
    assert_error(weak, 422, "validation_failed")
    changed = await server.client.patch(
        "/api/v1/me", json={"password": new, "current_password": PASSWORD}, headers=headers
    )
    assert changed.status_code == 200, changed.text
    # This session goes on; the other one is revoked, refresh token included.
    assert (await server.client.get("/api/v1/me", headers=headers)).status_code == 200
    assert_error(
        await server.client.get("/api/v1/me", headers=bearer(second["access_token"])),
        401,
        "invalid_token",
    )
    assert_error(
        await server.client.post(
            "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
        ),
        401,
        "invalid_token",
    )
    old = await server.client.post(
        "/api/v1/auth/login", json={"login": "dave", "password": PASSWORD}
    )
    assert_error(old, 401, "invalid_credentials")
    ok = await server.client.post("/api/v1/auth/login", json={"login": "dave", "password": new})
    assert ok.status_code == 200


async def test_sessions_are_listed_and_one_can_be_revoked(server: RunningServer) -> None:
    first = await register(server.client, "erin")
    other = (
        await server.client.post(
            "/api/v1/auth/login",
            json={"login": "erin", "password": PASSWORD},
            headers={"User-Agent": "second-device/1.0"},
        )
    ).json()
    headers = bearer(first["access_token"])
    listed = await server.client.get("/api/v1/me/sessions", headers=headers)
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert len(items) == 2
    assert {item["user_agent"] for item in items} >= {"second-device/1.0"}
    assert all(item["address"] == "127.0.0.1" for item in items)
    assert all({"created_at", "last_used_at", "expires_at"} <= set(item) for item in items)
    current = [item for item in items if item["current"]]
    assert len(current) == 1
    target = next(item["id"] for item in items if not item["current"])
    revoked = await server.client.delete(f"/api/v1/me/sessions/{target}", headers=headers)
    assert revoked.status_code == 204
    assert_error(
        await server.client.get("/api/v1/me", headers=bearer(other["access_token"])),
        401,
        "invalid_token",
    )
    after = (await server.client.get("/api/v1/me/sessions", headers=headers)).json()["items"]
    assert [item["id"] for item in after] == [current[0]["id"]]
    again = await server.client.delete(f"/api/v1/me/sessions/{target}", headers=headers)
    assert_error(again, 404, "not_found")


async def test_another_users_session_cannot_be_revoked(server: RunningServer) -> None:
    alice = await register(server.client, "alice")
    bob = await register(server.client, "bob")
    bob_sessions = await server.client.get(
        "/api/v1/me/sessions", headers=bearer(bob["access_token"])
    )
    bob_session = bob_sessions.json()["items"][0]["id"]
    response = await server.client.delete(
        f"/api/v1/me/sessions/{bob_session}", headers=bearer(alice["access_token"])
    )
    assert_error(response, 404, "not_found")
    assert (
        await server.client.get("/api/v1/me", headers=bearer(bob["access_token"]))
    ).status_code == 200


async def test_openapi_lists_account_routes_with_schemas(server: RunningServer) -> None:
    spec = (await server.client.get("/api/openapi.json")).json()
    paths = spec["paths"]
    for path, method in [
        ("/api/v1/auth/register", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/refresh", "post"),
        ("/api/v1/auth/password-reset", "post"),
        ("/api/v1/auth/password-reset/confirm", "post"),
        ("/api/v1/me", "patch"),
        ("/api/v1/admin/users/{user_id}", "patch"),
    ]:
        assert "requestBody" in paths[path][method], (path, method)
    for path, method, status in [
        ("/api/v1/auth/register", "post", "201"),
        ("/api/v1/auth/login", "post", "200"),
        ("/api/v1/me", "get", "200"),
        ("/api/v1/me/sessions", "get", "200"),
        ("/api/v1/users/{user_id}", "get", "200"),
        ("/api/v1/admin/users", "get", "200"),
    ]:
        assert "content" in paths[path][method]["responses"][status], (path, method)
    assert {p["name"] for p in paths["/api/v1/admin/users"]["get"]["parameters"]} >= {
        "limit",
        "cursor",
    }
    assert "/api/v1/auth/logout" in paths
    assert "/api/v1/me/sessions/{session_id}" in paths


async def test_user_agent_is_bounded(server: RunningServer) -> None:
    body = (
        await server.client.post(
            "/api/v1/auth/register",
            json={"email": "ua@example.org", "username": "agent", "password": PASSWORD},
            headers={"User-Agent": "u" * 2000},
        )
    ).json()
    sessions = await server.client.get("/api/v1/me/sessions", headers=bearer(body["access_token"]))
    assert len(sessions.json()["items"][0]["user_agent"]) == 256


async def test_openapi_documents_the_bearer_scheme_on_guarded_routes(
    server: RunningServer,
) -> None:
    spec = (await server.client.get("/api/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert spec["paths"]["/api/v1/me"]["get"]["security"] == [{"bearer": []}]
    assert "security" not in spec["paths"]["/api/v1/auth/login"]["post"]


async def test_authentication_events_are_logged_without_secrets(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = await register(server.client, "alice")
    await server.client.post("/api/v1/auth/login", json={"login": "alice", "password": "nope1234"})
    await server.client.post("/api/v1/auth/login", json={"login": "ghost", "password": "nope1234"})
    await server.client.post("/api/v1/auth/login", json={"login": "alice", "password": PASSWORD})
    await server.client.post("/api/v1/auth/logout", headers=bearer(body["access_token"]))
    audit = [r.getMessage() for r in caplog.records if r.name == "veza.audit"]
    user_id = body["user"]["id"]
    assert f"login failed: wrong password for user {user_id} (from 127.0.0.1)" in audit
    assert "login failed: no such account (from 127.0.0.1)" in audit
    assert f"login: user {user_id} (from 127.0.0.1)" in audit
    assert f"logout: user {user_id}" in audit
    everything = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (PASSWORD, "nope1234", body["access_token"], body["refresh_token"]):
        assert secret not in everything


async def test_control_characters_and_odd_ids_are_client_errors(server: RunningServer) -> None:
    body = await register(server.client, "alice")
    headers = bearer(body["access_token"])
    nul_login = await server.client.post(
        "/api/v1/auth/login", json={"login": "ali\u0000ce", "password": PASSWORD}
    )
    assert_error(nul_login, 401, "invalid_credentials")
    nul_email = await server.client.post(
        "/api/v1/auth/register",
        json={"email": "a\u0000b@example.org", "username": "other", "password": PASSWORD},
    )
    assert_error(nul_email, 422, "validation_failed")
    reset = await server.client.post(
        "/api/v1/auth/password-reset", json={"email": "a\u0000b@example.org"}
    )
    assert reset.status_code == 202
    for path in ("/api/v1/users/a%00b", "/api/v1/users/" + "F" * 32):
        assert_error(await server.client.get(path, headers=headers), 404, "not_found")
    gone = await server.client.delete("/api/v1/me/sessions/x%00y", headers=headers)
    assert_error(gone, 404, "not_found")
    refresh = await server.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": "zz\u0000.secret"}
    )
    assert_error(refresh, 401, "invalid_token")


@pytest.mark.slow
async def test_login_rehashes_with_new_parameters_outside_the_write_transaction(
    tmp_path: Path,
) -> None:
    async with serving(fast_settings(tmp_path)) as before:
        await register(before.client, "ursula")
        old = await before.store.accounts.user_by_username_key("ursula")
    assert old is not None and "m=1024,t=1,p=1" in old.password_hash

    # Costly enough that the login is mostly the rehash (over half a second here).
    stronger = fast_settings(tmp_path, argon2_time_cost=6, argon2_memory_kib=65_536)
    async with serving(stronger) as after:
        # While argon2 runs, other writers must get through: the rehash must not hold the one
        # SQLite write lock, which would stall every write for the whole hash. So a writer
        # keeps writing for as long as a real login is in flight, timing each write.
        waits: list[float] = []
        answered = trio.Event()

        async def keep_writing() -> None:
            while not answered.is_set():
                started = trio.current_time()
                async with after.store.database.transaction() as tx:
                    await tx.execute("UPDATE users SET updated_at = updated_at WHERE id = ''")
                waits.append(trio.current_time() - started)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(keep_writing)
            started = trio.current_time()
            login = await after.client.post(
                "/api/v1/auth/login", json={"login": "ursula", "password": PASSWORD}
            )
            took = trio.current_time() - started
            answered.set()
        assert login.status_code == 200, login.text
        new = await after.store.accounts.user_by_username_key("ursula")
        assert new is not None and "m=65536,t=6,p=1" in new.password_hash
        # Writes went on all through the login; none waited for anything like the hash (a
        # write lock held through the rehash makes one write wait nearly the whole login).
        assert len(waits) >= 5 and max(waits) < took / 2, (took, sorted(waits)[-3:], len(waits))
        again = await after.client.post(
            "/api/v1/auth/login", json={"login": "ursula", "password": PASSWORD}
        )
        assert again.status_code == 200, again.text
