"""Cursor pagination for every list route: `?limit=&cursor=` -> `{"items", "next_cursor"}`.

A cursor is the sort key of the last item served, opaque to clients (URL-safe base64 of a JSON
array). Repositories fetch `limit + 1` rows after the key; the extra row only says whether
another page exists.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from veza.errors import ValidationFailed

T = TypeVar("T")
Key = tuple[Any, ...]

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class PageQuery(BaseModel):
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(default=None, max_length=512)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(key: Key) -> str:
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, shape: tuple[type, ...]) -> Key | None:
    """The key inside a cursor, checked against the types it must have (an int is accepted
    where a float is expected); ValidationFailed (422) when it is not one of ours."""
    if cursor is None:
        return None
    invalid = ValidationFailed("cursor: not a valid cursor")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error):
        raise invalid from None
    if not isinstance(values, list) or len(values) != len(shape):
        raise invalid
    key = []
    for value, kind in zip(values, shape, strict=True):
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            try:
                value = float(value)
            except OverflowError:  # beyond any float, so no row's key
                raise invalid from None
        if type(value) is not kind:
            raise invalid
        if (isinstance(value, float) and not math.isfinite(value)) or (
            isinstance(value, str) and not value.isprintable()
        ):
            raise invalid
        key.append(value)
    return tuple(key)


def paginate(rows: Sequence[T], limit: int, key: Callable[[T], Key]) -> tuple[list[T], str | None]:
    """The page to serve from `rows` (fetched with limit + 1) and the cursor of the next one."""
    items = list(rows[:limit])
    if len(rows) <= limit or not items:
        return items, None
    return items, encode_cursor(key(items[-1]))


async def page_of(
    query: PageQuery,
    shape: tuple[type, ...],
    fetch: Callable[[Any, int], Awaitable[Sequence[T]]],
    key: Callable[[T], Key],
) -> tuple[list[T], str | None]:
    """The one recipe for a list route: decode the cursor against the key's `shape`, fetch
    `limit + 1` rows after it with `fetch(after, limit)`, and cut the page."""
    after = decode_cursor(query.cursor, shape)
    rows = await fetch(after, query.limit + 1)
    return paginate(rows, query.limit, key)
