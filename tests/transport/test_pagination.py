"""Cursor encoding and the page cut shared by every list route."""

from __future__ import annotations

import base64

import pytest

from veza.errors import ValidationFailed
from veza.transport.pagination import decode_cursor, encode_cursor, paginate


def test_cursor_round_trip_keeps_types() -> None:
    key = (1764150000.123456, "abc")
    assert decode_cursor(encode_cursor(key), (float, str)) == key
    assert decode_cursor(encode_cursor((5, "x")), (float, str)) == (5.0, "x")
    assert decode_cursor(None, (float, str)) is None


@pytest.mark.parametrize(
    "cursor",
    ["", "!!!", "bm90IGpzb24", encode_cursor(("a", "b")), encode_cursor((1.0,)), "eyJhIjoxfQ"],
)
def test_foreign_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(ValidationFailed):
        decode_cursor(cursor, (float, str))


def test_paginate_cuts_at_limit_and_points_past_the_last_item() -> None:
    rows = list(range(10))
    items, cursor = paginate(rows[:4], 3, lambda n: (n,))
    assert items == [0, 1, 2]
    assert cursor is not None and decode_cursor(cursor, (int,)) == (2,)
    assert paginate(rows[:3], 3, lambda n: (n,)) == ([0, 1, 2], None)
    assert paginate([], 3, lambda n: (n,)) == ([], None)


@pytest.mark.parametrize(
    "values", ['[NaN,"a"]', '[Infinity,"a"]', '[1.0,"a\\u0000"]', f'[{"9" * 350},"a"]']
)
def test_cursors_with_values_no_row_can_have_are_refused(values: str) -> None:

    cursor = base64.urlsafe_b64encode(values.encode()).decode().rstrip("=")
    with pytest.raises(ValidationFailed):
        decode_cursor(cursor, (float, str))
