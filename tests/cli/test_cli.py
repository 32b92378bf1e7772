"""The `veza` command as a user runs it: a real child process each time."""

from __future__ import annotations

import signal
import socket
import sqlite3
from pathlib import Path

import pytest

import veza
from tests.support import require_tool
from tests.support.process import ServeProcess, run_veza


@pytest.mark.slow
def test_version_and_help() -> None:
    assert run_veza("--version").stdout.strip() == f"veza {veza.__version__}"
    for command in ("serve", "migrate", "check"):
        result = run_veza(command, "--help")
        assert result.returncode == 0
        assert "--data-dir" in result.stdout


@pytest.mark.slow
def test_bad_setting_stops_start_up_with_one_line(tmp_path: Path) -> None:
    result = run_veza("serve", "--data-dir", str(tmp_path), VEZA_PORT="eighty")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "VEZA_PORT" in lines[0] and "expected an integer" in lines[0]


@pytest.mark.slow
def test_migrate_records_each_migration_once_and_check_reports_it(tmp_path: Path) -> None:
    first = run_veza("migrate", "--data-dir", str(tmp_path))
    assert first.returncode == 0, first.stderr
    second = run_veza("migrate", "--data-dir", str(tmp_path))
    assert "applied 0 migration(s)" in second.stdout
    with sqlite3.connect(tmp_path / "veza.db") as connection:
        versions = [row[0] for row in connection.execute("SELECT version FROM schema_migrations")]
    assert versions == sorted(set(versions)) and versions[0] == 1
    check = run_veza("check", "--data-dir", str(tmp_path))
    assert check.returncode == 0, check.stderr
    assert "up to date" in check.stdout


@pytest.mark.slow
def test_check_fails_clearly_on_an_unusable_database(tmp_path: Path) -> None:
    (tmp_path / "veza.db").write_bytes(b"this is not a database" * 100)
    result = run_veza("check", "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert "database error" in result.stderr


@pytest.mark.slow
def test_serve_exits_zero_within_five_seconds_of_sigterm(tmp_path: Path) -> None:
    server = ServeProcess(tmp_path / "data")
    try:
        assert server.get("/health").json() == {"status": "ok"}
        assert str((tmp_path / "data").resolve()) in server.log()
        code, seconds = server.stop(signal.SIGTERM)
    finally:
        server.kill()
    assert code == 0, server.log()
    assert seconds < 5


@pytest.mark.slow
def test_serve_logs_json_lines_when_asked(tmp_path: Path) -> None:
    import json

    server = ServeProcess(tmp_path / "data", VEZA_LOG_FORMAT="json")
    try:
        server.get("/health")
        code, _ = server.stop(signal.SIGINT)
    finally:
        server.kill()
    assert code == 0
    entries = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    assert len(entries) >= 3
    request = next(e for e in entries if e["logger"] == "veza.http")
    assert request["status"] == 200 and request["request_id"]
    assert request["message"].startswith("GET /health 200")


@pytest.mark.slow
def test_serve_on_a_port_in_use_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = run_veza("serve", "--data-dir", str(tmp_path / "data"), "--port", port)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [f"veza: cannot listen on 127.0.0.1:{port}: Address already in use"]
    assert not (tmp_path / "data").exists()  # nothing was opened before the port


@pytest.mark.slow
def test_check_never_creates_a_database_and_every_command_says_its_data_dir(
    tmp_path: Path,
) -> None:
    data = tmp_path / "typo"
    check = run_veza("check", "--data-dir", str(data))
    assert check.returncode == 0, check.stderr
    assert "database: none yet" in check.stdout and str(data.resolve()) in check.stdout
    assert not data.exists()
    migrate = run_veza("migrate", "--data-dir", str(data))
    assert f"veza: data in {data.resolve()}" in migrate.stderr.splitlines()
    assert "applied" in migrate.stdout


@pytest.mark.slow
def test_check_says_which_ffmpeg_encodes_and_what_without_one(tmp_path: Path) -> None:
    require_tool("ffmpeg")
    data = str(tmp_path / "data")
    found = run_veza("check", "--data-dir", data)
    assert found.returncode == 0 and "ffmpeg: /" in found.stdout
    # No ffmpeg on PATH: the MP3 entries only, or AAC ones made MP3 at their bit rate.
    mixed = run_veza(
        "check",
        "--data-dir",
        data,
        PATH="/nonexistent",
        VEZA_FFMPEG_PATH="none",
        VEZA_LADDER="aac:128,mp3:128",
    )
    assert mixed.returncode == 0, mixed.stderr
    assert "ffmpeg: not found; the ladder is encoded as mp3:128 with" in mixed.stdout
    aac = run_veza(
        "check", "--data-dir", data, VEZA_FFMPEG_PATH="none", VEZA_LADDER="aac:256,aac:64"
    )
    assert aac.returncode == 0 and "encoded as mp3:256,mp3:64 with" in aac.stdout
