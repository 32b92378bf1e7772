"""What every command that reads settings accepts, and how those options become Settings."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TypeAlias

from veza.config import Settings, load_settings

# What `add_subparsers` returns; generic only to type checkers, hence the string.
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML settings file (default: $VEZA_CONFIG)")
    parser.add_argument("--data-dir", help="where the database and media live (default: ./var)")


def settings_from(arguments: argparse.Namespace) -> Settings:
    return load_settings(
        arguments.config,
        data_dir=arguments.data_dir,
        host=getattr(arguments, "host", None),
        port=getattr(arguments, "port", None),
    )
