"""Typed settings: built-in defaults, then a TOML file, then VEZA_* environment variables."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import secrets
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from veza.audio.ladder import DEFAULT_LADDER, Rendition, parse_rendition
from veza.files import create_once, make_dirs

ENV_PREFIX = "VEZA_"


class ConfigError(Exception):
    """A setting has a bad value; the message is one line naming it and the expected form."""


def _integer(raw: object) -> int:
    if isinstance(raw, bool):
        raise ValueError
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        return int(raw)
    raise ValueError


def _number(raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError
    value = float(raw)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError
    return value


def _integer_in(low: int, high: int | None = None) -> Callable[[object], int]:
    def parse(raw: object) -> int:
        value = _integer(raw)
        if value < low or (high is not None and value > high):
            raise ValueError
        return value

    return parse


def _number_in(low: float, high: float, *, low_included: bool = True) -> Callable[[object], float]:
    def parse(raw: object) -> float:
        value = _number(raw)
        if value > high or value < low or (value == low and not low_included):
            raise ValueError
        return value

    return parse


_port = _integer_in(0, 65535)
_positive_integer = _integer_in(1)
_non_negative_integer = _integer_in(0)
_positive_number = _number_in(0, float("inf"), low_included=False)
_loudness = _number_in(-70, 0)


def _text(raw: object) -> str:
    if not isinstance(raw, str):
        raise ValueError
    return raw


def _path(raw: object) -> Path:
    if not isinstance(raw, str | Path) or str(raw) == "":
        raise ValueError
    return Path(raw)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _boolean(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in _TRUE | _FALSE:
        return raw.lower() in _TRUE
    raise ValueError


def _choice(*choices: str) -> Callable[[object], str]:
    def parse(raw: object) -> str:
        if not isinstance(raw, str) or raw.lower() not in choices:
            raise ValueError
        return raw.lower()

    return parse


def list_of(item: Callable[[object], Any]) -> Callable[[object], tuple[Any, ...]]:
    """The one rule for every list setting: a TOML array in the config file, or text with
    comma-separated items in a VEZA_* variable (`a.example,b.example`); items are trimmed,
    empty ones dropped, each parsed by `item`. A tuple, so Settings stays hashable."""

    def parse(raw: object) -> tuple[Any, ...]:
        if isinstance(raw, str):
            raw = [part.strip() for part in raw.split(",") if part.strip()]
        if not isinstance(raw, list | tuple):
            raise ValueError
        return tuple(item(value) for value in raw)

    return parse


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _network(raw: object) -> IPNetwork:
    """An IP address (a network of one) or a network with its host bits clear (10.0.0.0/8)."""
    return ipaddress.ip_network(_text(raw).strip())


# A host as it may stand in a URL: a name or IPv4 address, or an IPv6 one in brackets, then an
# optional port.
_HOST = r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
_HOST_RE = re.compile(_HOST)
_PATH_RE = re.compile(r"(?:/[A-Za-z0-9._~!$&'()*+,;=:@%-]*)*")
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def _web_address(raw: object) -> tuple[str, str, str]:
    """Scheme, host (lower case, without its scheme's default port) and path of an http(s)
    URL that has neither user, query nor fragment."""
    text = _text(raw).strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if (
        scheme not in _DEFAULT_PORTS
        or not _HOST_RE.fullmatch(parts.netloc)
        or not _PATH_RE.fullmatch(parts.path)
        or "?" in text
        or "#" in text
    ):
        raise ValueError
    if parts.port == 0:  # .port raises ValueError past 65535
        raise ValueError
    host = parts.netloc.lower().removesuffix(_DEFAULT_PORTS[scheme])
    return scheme, host, parts.path


def _public_url(raw: object) -> str:
    """Empty, or the absolute http(s) URL Veza is reached at, path prefix kept, without a
    trailing slash: `https://example.org/music`."""
    if _text(raw).strip() == "":
        return ""
    scheme, host, path = _web_address(raw)
    return f"{scheme}://{host}{path.rstrip('/')}"


def _origin(raw: object) -> str:
    """A web origin as browsers send it (`https://app.example`, `http://localhost:5173`), or
    `*` for any origin."""
    if _text(raw).strip() == "*":
        return "*"
    scheme, host, path = _web_address(raw)
    if path not in ("", "/"):
        raise ValueError
    return f"{scheme}://{host}"


def _ladder(raw: object) -> tuple[Rendition, ...]:
    entries = list_of(lambda entry: parse_rendition(_text(entry)))(raw)
    if not entries or len({r.name for r in entries}) != len(entries):
        raise ValueError  # empty, or an entry twice
    return entries


def _setting(default: Any, parse: Callable[[object], Any], expected: str) -> Any:
    return field(default=default, metadata={"parse": parse, "expected": expected})


@dataclass(frozen=True)
class Settings:
    """Every setting of Veza. config/veza.toml documents each one; a test keeps them in step."""

    host: str = _setting("127.0.0.1", _text, "a host name or IP address")
    port: int = _setting(8080, _port, "an integer from 0 to 65535")
    data_dir: Path = _setting(Path("var"), _path, "a directory path")
    database_url: str = _setting("", _text, "sqlite:///PATH or postgresql://...")
    log_format: str = _setting(
        "auto", _choice("auto", "text", "json", "journal"), "auto, text, json or journal"
    )
    log_level: str = _setting(
        "info", _choice("debug", "info", "warning", "error"), "debug, info, warning or error"
    )
    secret_key: str = _setting("", _text, "a string of at least 32 characters, or empty")
    max_json_bytes: int = _setting(1_048_576, _positive_integer, "a positive integer (bytes)")
    shutdown_grace_seconds: float = _setting(3.0, _positive_number, "a positive number")
    sqlite_readers: int = _setting(4, _positive_integer, "a positive integer")
    # Limits of the HTTP server (Hypercorn) for every connection.
    http_read_timeout_seconds: int = _setting(60, _positive_integer, "a positive integer")
    http_keep_alive_timeout_seconds: float = _setting(5.0, _positive_number, "a positive number")
    http_max_header_bytes: int = _setting(
        16_384, _integer_in(1024, 1_048_576), "an integer from 1024 to 1048576 (bytes)"
    )
    http_app_queue_size: int = _setting(10, _integer_in(1, 1000), "an integer from 1 to 1000")
    websocket_max_message_bytes: int = _setting(
        65_536, _integer_in(1024, 16_777_216), "an integer from 1024 to 16777216 (bytes)"
    )
    # Media and the transcode jobs (veza/tracks, veza/nursery/jobs.py).
    job_workers: int = _setting(
        0, _non_negative_integer, "0 (one per two cores) or a positive integer"
    )
    job_max_attempts: int = _setting(3, _positive_integer, "a positive integer")
    ladder: tuple[Rendition, ...] = _setting(
        DEFAULT_LADDER,
        _ladder,
        "codec:kbit/s entries, e.g. aac:256,aac:128,aac:64 (aac 32-320; mp3 a LAME rate)",
    )
    loudness_target_lufs: float = _setting(-14.0, _loudness, "a number from -70 to 0 (LUFS)")
    loudness_apply_gain: bool = _setting(True, _boolean, "true or false")
    max_upload_bytes: int = _setting(2_147_483_648, _positive_integer, "a positive integer (bytes)")
    stream_token_ttl_seconds: int = _setting(21_600, _positive_integer, "a positive integer")
    orphan_cleanup_interval_seconds: float = _setting(3600.0, _positive_number, "a positive number")
    # Playlists (veza/playlists, veza/transport/api/playlists.py).
    export_token_ttl_seconds: int = _setting(2_592_000, _positive_integer, "a positive integer")
    playlist_max_entries: int = _setting(
        10_000, _integer_in(1, 100_000), "an integer from 1 to 100000"
    )
    playlist_import_max_bytes: int = _setting(
        1_048_576, _integer_in(1024, 16_777_216), "an integer from 1024 to 16777216 (bytes)"
    )
    # Accounts, sessions and tokens (veza/accounts, veza/transport/api/accounts.py).
    registration: str = _setting("open", _choice("open", "closed"), "open or closed")
    access_token_ttl_seconds: int = _setting(900, _positive_integer, "a positive integer")
    refresh_token_ttl_seconds: int = _setting(1_209_600, _positive_integer, "a positive integer")
    session_lifetime_seconds: int = _setting(2_592_000, _positive_integer, "a positive integer")
    refresh_reuse_grace_seconds: float = _setting(
        2.0, _number_in(0, 5), "a number from 0 to 5 (seconds)"
    )
    password_reset_ttl_seconds: int = _setting(600, _positive_integer, "a positive integer")
    argon2_time_cost: int = _setting(3, _positive_integer, "a positive integer")
    argon2_memory_kib: int = _setting(65_536, _positive_integer, "a positive integer (KiB)")
    argon2_parallelism: int = _setting(4, _positive_integer, "a positive integer")
    password_hash_concurrency: int = _setting(2, _positive_integer, "a positive integer")
    account_cleanup_interval_seconds: float = _setting(600.0, _positive_number, "a positive number")
    auth_rate_address_burst: int = _setting(20, _positive_integer, "a positive integer")
    auth_rate_address_per_minute: float = _setting(20.0, _positive_number, "a positive number")
    auth_rate_account_burst: int = _setting(5, _positive_integer, "a positive integer")
    auth_rate_account_per_minute: float = _setting(6.0, _positive_number, "a positive number")
    auth_rate_account_total_burst: int = _setting(50, _positive_integer, "a positive integer")
    auth_rate_account_total_per_minute: float = _setting(
        30.0, _positive_number, "a positive number"
    )
    rate_limit_max_keys: int = _setting(10_000, _positive_integer, "a positive integer")
    # Outgoing mail (password reset): "log" writes messages to the log, "smtp" sends them.
    mail_backend: str = _setting("log", _choice("log", "smtp"), "log or smtp")
    mail_from: str = _setting("veza@localhost", _text, "an email address")
    smtp_host: str = _setting("localhost", _text, "a host name")
    smtp_port: int = _setting(587, _port, "an integer from 0 to 65535")
    smtp_username: str = _setting("", _text, "a string (empty: no login)")
    smtp_password: str = _setting("", _text, "a string")
    smtp_starttls: bool = _setting(True, _boolean, "true or false")
    smtp_timeout_seconds: float = _setting(10.0, _positive_number, "a positive number")
    # Behind a reverse proxy, and for browser clients on other origins (veza/transport/proxy.py,
    # veza/transport/cors.py, docs/security.md).
    public_url: str = _setting(
        "", _public_url, "empty or an http(s) URL such as https://example.org/music"
    )
    trusted_proxies: tuple[IPNetwork, ...] = _setting(
        (),
        list_of(_network),
        "IP addresses or networks with host bits clear, comma-separated (127.0.0.1,10.0.0.0/8)",
    )
    cors_origins: tuple[str, ...] = _setting(
        (),
        list_of(_origin),
        "origins, comma-separated (https://app.example,http://localhost:5173), or *",
    )
    # The HTTP edge (veza/transport/http.py): transfers and /metrics.
    http_write_timeout_seconds: int = _setting(60, _positive_integer, "a positive integer")
    http_min_body_rate_bytes: int = _setting(
        16_384, _positive_integer, "a positive integer (bytes per second)"
    )
    metrics_allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = _setting(
        list_of(_network)(["127.0.0.1", "::1"]),
        list_of(_network),
        "addresses or networks (a TOML array, or comma-separated); empty: any address",
    )
    metrics_token: str = _setting("", _text, "a string (empty: no token asked)")
    # HLS delivery (veza/tracks/cache.py, veza/transport/hls.py, docs/deployment.md).
    hls_cache_bytes: int = _setting(
        67_108_864, _non_negative_integer, "a non-negative integer (bytes; 0: no cache)"
    )
    hls_check_ttl_seconds: float = _setting(
        2.0, _number_in(0, 60), "a number from 0 to 60 (seconds; 0: ask the database each time)"
    )
    offload: str = _setting("none", _choice("none", "x-accel"), "none or x-accel")
    http_listen_backlog: int = _setting(
        1024, _integer_in(1, 65535), "an integer from 1 to 65535 (connections)"
    )
    # Chat (veza/chat, veza/transport/api/conversations.py, veza/transport/ws.py).
    chat_edit_window_seconds: float = _setting(900.0, _positive_number, "a positive number")
    chat_resume_max_messages: int = _setting(
        500, _integer_in(1, 100_000), "an integer from 1 to 100000 (messages)"
    )
    chat_group_max_members: int = _setting(
        1000, _integer_in(2, 100_000), "an integer from 2 to 100000"
    )
    chat_send_burst: int = _setting(20, _positive_integer, "a positive integer")
    chat_send_per_minute: float = _setting(120.0, _positive_number, "a positive number")
    chat_typing_burst: int = _setting(10, _positive_integer, "a positive integer")
    chat_typing_per_minute: float = _setting(60.0, _positive_number, "a positive number")
    # The WebSocket hub (veza/transport/ws, veza/chat/typing.py, veza/chat/presence.py,
    # docs/websocket.md).
    ws_auth_timeout_seconds: float = _setting(5.0, _positive_number, "a positive number")
    ws_ping_interval_seconds: float = _setting(20.0, _positive_number, "a positive number")
    ws_idle_timeout_seconds: float = _setting(30.0, _positive_number, "a positive number")
    ws_outbound_queue_size: int = _setting(
        256, _integer_in(1, 65536), "an integer from 1 to 65536 (frames)"
    )
    ws_subscription_queue_size: int = _setting(
        256, _integer_in(1, 65536), "an integer from 1 to 65536 (events)"
    )
    ws_max_topics: int = _setting(64, _integer_in(1, 4096), "an integer from 1 to 4096")
    ws_delivered_flush_seconds: float = _setting(0.5, _positive_number, "a positive number")
    typing_expiry_seconds: float = _setting(6.0, _positive_number, "a positive number")
    presence_away_after_seconds: float = _setting(300.0, _positive_number, "a positive number")
    presence_offline_grace_seconds: float = _setting(
        10.0, _number_in(0, 3600), "a number from 0 to 3600 (seconds)"
    )
    presence_gather_seconds: float = _setting(
        0.25, _number_in(0.001, 10), "a number from 0.001 to 10 (seconds)"
    )
    presence_beat_seconds: float = _setting(
        10.0, _number_in(0.1, 600), "a number from 0.1 to 600 (seconds)"
    )
    # The library: music folders scanned in place, storage, integrity (veza/tracks/scan.py,
    # veza/tracks/quota.py, veza/tracks/integrity.py).
    music_folders: tuple[Path, ...] = _setting(
        (), list_of(_path), "folder paths (a TOML array, or comma-separated)"
    )
    music_folder_visibility: str = _setting(
        "public", _choice("private", "unlisted", "public"), "private, unlisted or public"
    )
    scan_interval_seconds: float = _setting(3600.0, _positive_number, "a positive number")
    storage_quota_bytes: int = _setting(
        0, _non_negative_integer, "a non-negative integer (bytes; 0: no quota)"
    )
    min_free_disk_bytes: int = _setting(
        104_857_600, _non_negative_integer, "a non-negative integer (bytes; 0: no floor)"
    )
    media_check_interval_seconds: float = _setting(86400.0, _positive_number, "a positive number")
    # The catalogue (veza/tracks/visibility.py): who sees a new track unless its owner says.
    default_visibility: str = _setting(
        "private", _choice("private", "unlisted", "public"), "private, unlisted or public"
    )
    # Deployment (docs/deployment.md): which FFmpeg transcodes run.
    ffmpeg_path: str = _setting(
        "", _text, "empty (ffmpeg on PATH, else imageio-ffmpeg's), an executable path, or none"
    )

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file: from a sqlite:/// URL, or veza.db in the data directory."""
        if self.database_url.startswith("sqlite:///"):
            return Path(self.database_url.removeprefix("sqlite:///"))
        return self.data_dir / "veza.db"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def covers_dir(self) -> Path:
        """Album covers (a track's live in its media folder)."""
        return self.data_dir / "covers" / "albums"

    @property
    def playlist_covers_dir(self) -> Path:
        """Covers uploaded for playlists, one folder per playlist."""
        return self.data_dir / "covers" / "playlists"

    @property
    def upload_dir(self) -> Path:
        """Where uploads are spooled while they arrive (same filesystem as media_dir)."""
        return self.data_dir / "uploads"

    @property
    def worker_count(self) -> int:
        """Transcodes at once. Each runs one FFmpeg encoder per rendition in parallel, so by
        default one transcode per two cores keeps the machine answering requests."""
        return self.job_workers or max(1, (os.cpu_count() or 1) // 2)

    @property
    def database_backend(self) -> str:
        if self.database_url.startswith(("postgres://", "postgresql://")):
            return "postgresql"
        return "sqlite"


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def _parse_field(f: dataclasses.Field[Any], raw: object, source: str) -> Any:
    try:
        return f.metadata["parse"](raw)
    except (ValueError, TypeError):
        raise ConfigError(
            f"{source}: {f.name} = {raw!r} is not valid; expected {f.metadata['expected']}"
        ) from None


def load_settings(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Defaults, then the TOML file (argument or VEZA_CONFIG), then VEZA_* variables, then
    explicit overrides (command-line options). Raises ConfigError with a one-line message."""
    environ = os.environ if environ is None else environ
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}
    path = config_file or (Path(environ["VEZA_CONFIG"]) if environ.get("VEZA_CONFIG") else None)
    if path is not None:
        for name, raw in _read_toml(path).items():
            if name not in fields:
                raise ConfigError(f"{path}: unknown setting {name!r}")
            values[name] = _parse_field(fields[name], raw, str(path))
    for name, f in fields.items():
        if env_name(name) in environ:
            values[name] = _parse_field(f, environ[env_name(name)], env_name(name))
    for name, raw in overrides.items():
        if raw is not None:
            values[name] = _parse_field(fields[name], raw, "--" + name.replace("_", "-"))
    settings = Settings(**values)
    if settings.secret_key and len(settings.secret_key) < 32:
        raise ConfigError("secret_key is too short; expected at least 32 characters")
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read config file ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None


def ensure_secret(settings: Settings) -> str:
    """The token-signing secret: configured, or generated once into the data dir (mode 0600)."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / "secret.key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    make_dirs(settings.data_dir)
    return create_once(path, (secrets.token_urlsafe(48) + "\n").encode()).decode().strip()
