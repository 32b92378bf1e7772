"""The `veza` command: serve, migrate, check, import, transcode, user."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import trio

import veza
from veza.config import ConfigError, Settings, load_settings
from veza.logs import configure_logging
from veza.store import DatabaseError, open_database, open_store
from veza.store.migrations import applied_versions, latest_version, migrate
from veza.user_command import add_user_parser, run_user_command

log = logging.getLogger("veza")


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML settings file (default: $VEZA_CONFIG)")
    parser.add_argument("--data-dir", help="where the database and media live (default: ./var)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="veza", description=veza.__doc__)
    parser.add_argument("--version", action="version", version=f"veza {veza.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the server", description="Run the server.")
    _add_config_options(serve)
    serve.add_argument("--host", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", help="port to listen on (default: 8080)")

    for name, text in (
        ("migrate", "bring the database schema up to date"),
        ("check", "validate the settings and the database, and print what was found"),
    ):
        _add_config_options(commands.add_parser(name, help=text, description=text.capitalize()))
    transcode = commands.add_parser(
        "transcode",
        help="turn an audio file into an HLS ladder in a folder (no server needed)",
        description="Run the transcode pipeline on FILE and write master.m3u8 and the "
        "renditions into OUT_DIR (try it with `ffplay OUT_DIR/master.m3u8`).",
    )
    transcode.add_argument("file", type=Path, metavar="FILE")
    transcode.add_argument("out_dir", type=Path, metavar="OUT_DIR")

    add = commands.add_parser(
        "import",
        help="add audio files to the library; the running server transcodes them",
        description="Copy each FILE into the library and queue its transcode.",
    )
    _add_config_options(add)
    add.add_argument("files", type=Path, nargs="+", metavar="FILE")
    add.add_argument("--title", help="title (default: from the file's tags or name)")
    add.add_argument("--artist", default="", help="artist (default: from the file's tags)")
    add.add_argument("--album", default="", help="album (default: from the file's tags)")
    add_user_parser(commands, _add_config_options)
    return parser


def _settings(arguments: argparse.Namespace) -> Settings:
    return load_settings(
        arguments.config,
        data_dir=arguments.data_dir,
        host=getattr(arguments, "host", None),
        port=getattr(arguments, "port", None),
    )


def _serve(settings: Settings) -> int:
    from veza.nursery.supervisor import run_veza

    async def main() -> None:
        await run_veza(settings, trio.Event(), handle_signals=True)

    trio.run(main)
    return 0


def _migrate(settings: Settings) -> int:
    async def main() -> list[int]:
        async with open_database(settings) as database:
            return await migrate(database)

    applied = trio.run(main)
    print(f"applied {len(applied)} migration(s); schema at version {latest_version()}")
    return 0


def _check(settings: Settings) -> int:
    print(f"settings: ok (data dir {settings.data_dir.resolve()})")
    print(f"listen: http://{settings.host}:{settings.port}")

    async def main() -> list[int]:
        async with open_database(settings) as database:
            await database.ping()
            return await applied_versions(database)

    versions = trio.run(main)
    current = max(versions, default=0)
    state = (
        "up to date"
        if current == latest_version()
        else f"needs `veza migrate` (latest {latest_version()})"
    )
    print(f"database: ok ({settings.database_backend}, schema version {current}, {state})")
    return 0


def _import(settings: Settings, arguments: argparse.Namespace) -> int:
    from veza.app import build_services
    from veza.library import Tags

    missing = [str(path) for path in arguments.files if not path.is_file()]
    if missing:
        print(f"veza: not a file: {', '.join(missing)}", file=sys.stderr)
        return 2

    async def main() -> None:
        async with open_store(settings) as store:
            library = build_services(settings, store, secret="").library
            for path in arguments.files:
                tags = Tags(arguments.title or "", arguments.artist, arguments.album)
                track = await library.import_file(path, tags=tags)
                print(f"{track.id}  {track.title}  (queued for transcoding)")

    trio.run(main)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    if arguments.command == "transcode":
        from veza.transcode import run_transcode_command

        configure_logging("text", "warning")
        return run_transcode_command(arguments.file, arguments.out_dir)
    try:
        settings = _settings(arguments)
    except ConfigError as error:
        print(f"veza: configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    commands = {"serve": _serve, "migrate": _migrate, "check": _check}
    try:
        if arguments.command == "import":
            return _import(settings, arguments)
        if arguments.command == "user":
            return run_user_command(settings, arguments)
        return commands[arguments.command](settings)
    except DatabaseError as error:
        print(f"veza: database error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
