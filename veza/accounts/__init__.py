"""Accounts: users, passwords, sessions, tokens, roles and the permission table."""

from veza.accounts.permissions import PERMISSIONS, Permission, Role, allows
from veza.accounts.service import Accounts, Client, Grant, Principal, Throttle
from veza.store.accounts import SessionRow, UserRow

__all__ = [
    "PERMISSIONS",
    "Accounts",
    "Client",
    "Grant",
    "Permission",
    "Principal",
    "Role",
    "SessionRow",
    "Throttle",
    "UserRow",
    "allows",
]
