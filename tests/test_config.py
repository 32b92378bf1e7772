"""Settings: defaults, the documented file, file and environment precedence, one-line errors."""

from __future__ import annotations

import dataclasses
import os
import stat
import tomllib
from pathlib import Path

import pytest

from veza.config import ConfigError, Settings, _integer_in, ensure_secret, list_of, load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_documented_config_file_lists_every_setting_with_its_default() -> None:
    text = (ROOT / "config" / "veza.toml").read_text()
    documented = tomllib.loads(text)
    defaults = Settings()
    assert set(documented) == {f.name for f in dataclasses.fields(Settings)}
    assert load_settings(ROOT / "config" / "veza.toml", environ={}) == defaults
    lines = text.splitlines()
    for name in documented:
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{name} ="))
        assert lines[index - 1].startswith("# "), f"{name} has no comment above it"


def test_file_overrides_defaults_and_environment_overrides_file(tmp_path: Path) -> None:
    config = tmp_path / "veza.toml"
    config.write_text('port = 9001\nlog_format = "json"\n')
    settings = load_settings(config, environ={"VEZA_PORT": "9002"})
    assert settings.port == 9002
    assert settings.log_format == "json"
    assert load_settings(None, environ={"VEZA_CONFIG": str(config)}).port == 9001
    assert load_settings(config, environ={}, port="9003").port == 9003


def test_environment_variables_are_typed(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        environ={
            "VEZA_HOST": "0.0.0.0",
            "VEZA_DATA_DIR": str(tmp_path),
            "VEZA_DATABASE_URL": "sqlite:///" + str(tmp_path / "x.db"),
            "VEZA_LOG_LEVEL": "DEBUG",
        },
    )
    assert settings.host == "0.0.0.0"
    assert settings.data_dir == tmp_path
    assert settings.sqlite_path == tmp_path / "x.db"
    assert settings.log_level == "debug"


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"VEZA_PORT": "eighty"}, "VEZA_PORT"),
        ({"VEZA_PORT": "70000"}, "VEZA_PORT"),
        ({"VEZA_LOG_FORMAT": "xml"}, "VEZA_LOG_FORMAT"),
        ({"VEZA_MAX_JSON_BYTES": "-1"}, "VEZA_MAX_JSON_BYTES"),
        ({"VEZA_SECRET_KEY": "short"}, "secret_key"),
    ],
)
def test_bad_value_is_one_line_naming_the_setting(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(None, environ=environ)
    message = str(raised.value)
    assert named in message
    assert "expected" in message
    assert "\n" not in message


def test_unknown_key_and_broken_toml_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "veza.toml"
    config.write_text("prot = 1\n")
    with pytest.raises(ConfigError, match="unknown setting 'prot'"):
        load_settings(config, environ={})
    config.write_text("port = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(config, environ={})


def test_secret_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    settings = load_settings(None, environ={}, data_dir=tmp_path / "data")
    first = ensure_secret(settings)
    assert len(first) >= 32
    path = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert ensure_secret(settings) == first
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
    configured = load_settings(None, environ={"VEZA_SECRET_KEY": "k" * 40}, data_dir=tmp_path)
    assert ensure_secret(configured) == "k" * 40


def test_list_settings_read_a_toml_array_or_comma_separated_text() -> None:
    parse = list_of(str)
    assert parse(["https://a.example", "https://b.example"]) == (
        "https://a.example",
        "https://b.example",
    )
    assert parse(" https://a.example, https://b.example ,") == (
        "https://a.example",
        "https://b.example",
    )
    assert parse("") == ()
    with pytest.raises(ValueError):
        parse(3)
    with pytest.raises(ValueError):
        list_of(_integer_in(1))(["1", "x"])


def test_by_default_one_transcode_runs_per_two_cores(tmp_path: Path) -> None:
    settings = load_settings(None, environ={}, data_dir=tmp_path)
    assert settings.worker_count == max(1, (os.cpu_count() or 1) // 2)
    assert load_settings(None, environ={"VEZA_JOB_WORKERS": "3"}).worker_count == 3


def test_the_ladder_is_a_list_of_codec_and_bit_rate() -> None:
    settings = load_settings(None, environ={"VEZA_LADDER": "aac:192, mp3:320"})
    assert [(r.name, r.codec, r.bitrate_kbps) for r in settings.ladder] == [
        ("aac_192", "aac", 192),
        ("mp3_320", "mp3", 320),
    ]
    for bad in ("", "aac", "aac:0", "mp3:100", "flac:900", "aac:128,aac:128", "aac:١٢٨"):
        with pytest.raises(ConfigError, match="VEZA_LADDER"):
            load_settings(None, environ={"VEZA_LADDER": bad})
