"""Why a track failed, as everyone who can see the track reads it.

Each raise site chooses a reason written for people (veza.transcode.TranscodeError,
veza.nursery.jobs.JobFailed) and keeps the raw detail for the log. `public_reason` is the net
under them, applied where the reason is stored: whatever a future raise site lets through, no
path of the server, memory address or FFmpeg log prefix goes out, and no screenful of text.
"""

from __future__ import annotations

import re

MAX_CHARS = 200
FALLBACK = "internal error"

# FFmpeg's log prefix, "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55d0c3a1b2c0] ".
_LOG_PREFIX = re.compile(r"\[[^\]\n]*@[^\]\n]*\]\s*")
_ADDRESS = re.compile(r"\b0[xX][0-9a-fA-F]+\b")
_PATHS = re.compile(
    r"(?:\b[A-Za-z][\w+.-]*:)?(?<![\w.~-])/[^\s'\"]*"  # /srv/x, file:/srv/x, file:///srv/x
    r"|~/[^\s'\"]*"  # ~/music/x.mp3
    r"|\b[A-Za-z]:\\[^\s'\"]*"  # C:\music\x.mp3
    r"|[\w.-]+(?:/[\w.-]+){2,}"  # media/3fa4/original.mp3 (a relative path, two slashes or more)
)
_SPACES = re.compile(r"\s+")


def _path_standin(found: re.Match[str]) -> str:
    path = found.group(0)
    kept = path.rstrip(":;,.)")  # the sentence's punctuation, not the path's
    return "a file" + path[len(kept) :]


def public_reason(text: str) -> str:
    """`text` with what only the server should see taken out, on one line, at most
    `MAX_CHARS` long; "internal error" when nothing is left."""
    text = "; ".join(line.strip() for line in text.splitlines() if line.strip())
    text = _LOG_PREFIX.sub("", text)
    text = _PATHS.sub(_path_standin, text)
    text = _ADDRESS.sub("", text)
    text = _SPACES.sub(" ", text).strip(" :;,|")
    if len(text) > MAX_CHARS:
        text = text[: MAX_CHARS - 1].rstrip() + "…"
    return text or FALLBACK
