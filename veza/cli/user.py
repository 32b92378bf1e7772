"""The `veza user` command: accounts from a terminal, the first admin included."""

from __future__ import annotations

import argparse
import getpass
import sys

import trio

from veza.accounts import Accounts, Role
from veza.accounts.passwords import PasswordHasher
from veza.cli.options import Commands, add_config_options
from veza.config import Settings
from veza.errors import VezaError
from veza.store import open_store


def add_parser(commands: Commands) -> None:
    user = commands.add_parser("user", help="manage accounts", description="Manage accounts.")
    actions = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create",
        help="create an account",
        description="Create an account. The password is prompted for on a terminal, and read "
        "from the first line of standard input otherwise.",
    )
    add_config_options(create)
    create.add_argument("--username", required=True)
    create.add_argument("--email", required=True)
    create.add_argument("--admin", action="store_true", help="give the account the admin role")


def _read_password() -> str:
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat: ") != password:
            raise VezaError("the passwords do not match")
        return password
    return sys.stdin.readline().rstrip("\r\n")


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    password = _read_password()
    role = Role.ADMIN if arguments.admin else Role.USER

    async def main() -> str:
        async with open_store(settings) as store:
            hasher = PasswordHasher.configured(settings, concurrency=1)
            # No tokens are issued here, so no signing secret is needed.
            accounts = Accounts(settings, store, hasher, secret="")
            user = await accounts.create_user(
                email=arguments.email, username=arguments.username, password=password, role=role
            )
            return f"created user {user.username} (id {user.id}, role {user.role})"

    try:
        print(trio.run(main))
    except VezaError as error:
        print(f"veza: {error.message}", file=sys.stderr)
        return 1
    return 0
