"""Accounts: users, passwords, sessions, tokens, roles and the permission table."""

from veza.accounts.permissions import PERMISSIONS, Permission, Role, allows
from veza.accounts.service import Accounts, Client, Grant, Principal, Throttle

__all__ = [
    "PERMISSIONS",
    "Accounts",
    "Client",
    "Grant",
    "Permission",
    "Principal",
    "Role",
    "Throttle",
    "allows",
]
