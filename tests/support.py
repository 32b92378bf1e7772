"""Shared test helpers: skipping on missing tools (fatal under VEZA_TEST_STRICT=1)."""

from __future__ import annotations

import os
import shutil

import pytest

STRICT = os.environ.get("VEZA_TEST_STRICT") == "1"


def require_tool(name: str) -> str:
    """Return the path of an executable, or skip (fail under strict mode) when it is missing."""
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed"
        if STRICT:
            pytest.fail(f"{reason} (VEZA_TEST_STRICT=1)")
        pytest.skip(reason)
    return path
