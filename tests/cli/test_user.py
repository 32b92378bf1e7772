"""`veza user create` as an operator runs it (a real child process), then the account used
over real HTTP: the first admin is made this way."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.accounts import bearer, fast_settings
from tests.support.process import clean_environment, veza_command
from tests.support.server import RunningServer
from veza.config import Settings

PASSWORD = "operator's long passphrase"


def user_create(data_dir: Path, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        veza_command("user", "create", "--data-dir", str(data_dir), *args),
        input=stdin,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    made = user_create(
        tmp_path / "data",
        "--username",
        "Root",
        "--email",
        "root@example.org",
        "--admin",
        stdin=PASSWORD + "\nignored second line\n",
    )
    assert made.returncode == 0, made.stderr
    assert "created user Root" in made.stdout and "role admin" in made.stdout
    return fast_settings(tmp_path)


@pytest.mark.slow
async def test_the_created_admin_can_log_in_and_administer(server: RunningServer) -> None:
    login = await server.client.post(
        "/api/v1/auth/login", json={"login": "root", "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    assert login.json()["user"]["role"] == "admin"
    users = await server.client.get(
        "/api/v1/admin/users", headers=bearer(login.json()["access_token"])
    )
    assert users.status_code == 200
    # The CLI hashed with the default (RFC 9106) costs; this server is configured cheaper,
    # so the login rehashed the password with the server's parameters.
    row = await server.store.database.fetch_one(
        "SELECT password_hash FROM users WHERE username_key = 'root'"
    )
    assert row is not None and "m=1024,t=1,p=1" in row["password_hash"]


@pytest.mark.slow
def test_refusals_exit_1_with_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ok = user_create(data, "--username", "first", "--email", "a@example.org", stdin=PASSWORD)
    assert ok.returncode == 0, ok.stderr
    for args, stdin, says in [
        (("--username", "FIRST", "--email", "b@example.org"), PASSWORD, "taken"),
        (("--username", "second", "--email", "b@example.org"), "password", "common"),
        (("--username", "second", "--email", "b@example.org"), "", "password"),
        (("--username", "x", "--email", "b@example.org"), PASSWORD, "username"),
    ]:
        result = user_create(data, *args, stdin=stdin)
        assert result.returncode == 1, (args, result.stdout)
        assert says in result.stderr.strip().splitlines()[-1]
