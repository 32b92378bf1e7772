"""Journal lines: what `veza serve` writes under systemd (stdout not a terminal)."""

from __future__ import annotations

import io
import logging
import re
import signal
from pathlib import Path

import pytest

from tests.support.process import ServeProcess
from veza.logs import configure_logging


def test_journal_lines_carry_the_priority_and_no_time() -> None:
    stream = io.StringIO()  # not a terminal: "auto" is the journal format
    configure_logging("auto", "debug", stream)
    log = logging.getLogger("veza.example")
    log.warning("disk low", extra={"free_bytes": 10})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    log.debug("details")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "<4>veza.example: disk low free_bytes=10"
    assert lines[1] == "<3>veza.example: failed"
    # journald makes each line an entry; indented, the traceback reads as the continuation.
    assert lines[2].startswith("  Traceback") and lines[-2].startswith("  ValueError: boom")
    assert lines[-1] == "<7>veza.example: details"
    configure_logging("text", "info")


@pytest.mark.slow
def test_serve_logs_journal_lines_on_stdout_when_not_on_a_terminal(tmp_path: Path) -> None:
    server = ServeProcess(tmp_path / "data")
    try:
        server.get("/health")
        code, _ = server.stop(signal.SIGTERM)
    finally:
        server.kill()
    assert code == 0
    lines = server.log().splitlines()
    assert any(re.fullmatch(r"<6>veza\.serve: listening on http://\S+; data in .+", line)
               for line in lines)  # fmt: skip
    assert any(line.startswith("<6>veza.http: GET /health 200") for line in lines)
    assert not any(re.match(r"\d{4}-\d\d-\d\d", line) for line in lines)
