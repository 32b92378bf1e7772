"""Times in API responses: epoch seconds in the store, ISO 8601 in UTC on the wire."""

from __future__ import annotations

from datetime import UTC, datetime


def utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
