"""What makes a username, an email address and a password acceptable, and their normal forms."""

from __future__ import annotations

import re
import string
import unicodedata
from functools import cache
from importlib import resources

from veza.errors import ValidationFailed

USERNAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{3,32}")
ID_PATTERN = re.compile(r"[0-9a-f]{32}")
PASSWORD_MIN_CHARS = 8
PASSWORD_MAX_CHARS = 1024
EMAIL_MAX_CHARS = 254
DISPLAY_NAME_MAX_CHARS = 64
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
# Context-specific words (ASVS 6.1.2, 6.2.11), besides the account's own username and email.
CONTEXT_WORDS = ("veza", "veza music", "vezamusic")
# What people put around a word to pass composition rules: "Alice2024!" is still "alice".
_DECORATION = string.digits + string.punctuation + " "


def looks_like_id(value: str) -> bool:
    """Ids are 32 lower-case hex digits; anything else names nothing and never reaches SQL
    (PostgreSQL refuses some strings, such as those with NUL, with an error rather than no row)."""
    return ID_PATTERN.fullmatch(value) is not None


def username_key(username: str) -> str:
    """Usernames are unique without regard to case."""
    return username.strip().lower()


def email_key(email: str) -> str:
    """Emails are unique once trimmed, NFKC-normalised and lower-cased."""
    return unicodedata.normalize("NFKC", email.strip()).lower()


def login_key(login: str) -> tuple[str, str]:
    """('email', key) or ('username', key): usernames cannot contain '@', so one decides."""
    if "@" in login:
        return "email", email_key(login)
    return "username", username_key(login)


def check_username(username: str) -> str:
    if not USERNAME_PATTERN.fullmatch(username):
        raise ValidationFailed("username: 3 to 32 characters of A-Z, a-z, 0-9, '_', '.' or '-'")
    return username


def check_email(email: str) -> str:
    """The address as given (trimmed, domain lower-cased); raises when it cannot be one."""
    email = unicodedata.normalize("NFKC", email.strip())
    if len(email) > EMAIL_MAX_CHARS or not email.isprintable() or not _EMAIL.fullmatch(email):
        raise ValidationFailed("email: not a valid email address")
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def check_display_name(display_name: str | None) -> str | None:
    if display_name is None:
        return None
    display_name = display_name.strip()
    if len(display_name) > DISPLAY_NAME_MAX_CHARS or not display_name.isprintable():
        raise ValidationFailed(
            f"display_name: at most {DISPLAY_NAME_MAX_CHARS} printable characters"
        )
    return display_name or None


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("veza").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def check_password(password: str, *, context: tuple[str, ...] = ()) -> str:
    """Length 8-1024 characters, no composition rules; refused when common, or when it is a
    context word (the account's username, email, the application's name) with at most digits
    and punctuation around it (ASVS 6.2.1, 6.2.4, 6.2.5, 6.2.9, 6.2.11)."""
    length = len(password)
    if length < PASSWORD_MIN_CHARS or length > PASSWORD_MAX_CHARS:
        raise ValidationFailed(f"password: {PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters")
    folded = password.lower()
    if folded in common_passwords():
        raise ValidationFailed("password: too common; choose a less predictable one")
    core = folded.strip(_DECORATION)
    words = {word.lower() for word in (*context, *CONTEXT_WORDS) if word}
    if folded in words or core in words:
        raise ValidationFailed(
            "password: must not be built on the username, the email address or the site's name"
        )
    return password
