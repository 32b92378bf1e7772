"""Logging set-up: human-readable lines, JSON lines or journal lines, one per event."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

# Attributes every LogRecord has; anything else was passed through `extra=` and is data.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        self.converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = _extras(record)
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return line


# syslog priorities (sd-daemon(3)): journald takes a leading `<N>` as the line's priority.
_PRIORITIES = {"CRITICAL": 2, "ERROR": 3, "WARNING": 4, "INFO": 6, "DEBUG": 7}


class JournalFormatter(TextFormatter):
    """`<N>logger: message key=value`: no time (journald records it), the level as a syslog
    priority (so `journalctl -p warning` filters), a traceback folded into the one entry."""

    def __init__(self) -> None:
        logging.Formatter.__init__(self, "%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record).replace("\n", "\n  ")
        return f"<{_PRIORITIES.get(record.levelname, 6)}>{line}"


def _formatter(log_format: str, stream: TextIO) -> logging.Formatter:
    if log_format == "auto":
        log_format = "text" if stream.isatty() else "journal"
    if log_format == "json":
        return JSONFormatter()
    return JournalFormatter() if log_format == "journal" else TextFormatter()


def configure_logging(log_format: str, level: str, stream: TextIO | None = None) -> None:
    """Log lines of `log_format` to `stream` (stderr by default); "auto" is text on a terminal
    and journal lines otherwise."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_formatter(log_format, stream))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Hypercorn logs each request itself; ours carries the request id, so keep one.
    logging.getLogger("hypercorn.access").disabled = True
