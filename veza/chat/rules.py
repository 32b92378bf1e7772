"""What makes a message body, a group title and a client id acceptable."""

from __future__ import annotations

import re
import unicodedata

from veza.errors import ValidationFailed

BODY_MAX_CHARS = 4000
TITLE_MAX_CHARS = 100
CLIENT_ID_MAX_CHARS = 64
HISTORY_MAX_LIMIT = 100
# Printable ASCII without spaces: UUIDs, ULIDs, counters; nothing a database could refuse.
_CLIENT_ID = re.compile(rf"[\x21-\x7e]{{1,{CLIENT_ID_MAX_CHARS}}}")
_ALLOWED_CONTROLS = frozenset("\n\t")


def check_body(body: str) -> str:
    """Non-empty (not only blanks), at most 4,000 characters, no control characters but newline
    and tab, no lone surrogates (JSON can carry them; no database can store them)."""
    if not body.strip():
        raise ValidationFailed("body: must not be empty")
    if len(body) > BODY_MAX_CHARS:
        raise ValidationFailed(f"body: at most {BODY_MAX_CHARS} characters")
    for char in body:
        category = unicodedata.category(char)
        if (category == "Cc" and char not in _ALLOWED_CONTROLS) or category == "Cs":
            raise ValidationFailed(
                "body: no control characters other than newline and tab"
                if category == "Cc"
                else "body: not valid Unicode text"
            )
    return body


def check_title(title: str | None) -> str | None:
    """A group's title: trimmed, at most 100 printable characters (which excludes lone
    surrogates); empty means none."""
    if title is None:
        return None
    title = title.strip()
    if len(title) > TITLE_MAX_CHARS or not title.isprintable():
        raise ValidationFailed(f"title: at most {TITLE_MAX_CHARS} printable characters")
    return title or None


def check_client_id(client_id: str) -> str:
    if not _CLIENT_ID.fullmatch(client_id):
        raise ValidationFailed(
            f"client_id: 1 to {CLIENT_ID_MAX_CHARS} printable ASCII characters without spaces"
        )
    return client_id
