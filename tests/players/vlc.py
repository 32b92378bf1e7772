"""Running VLC (Debian's cvlc) headless on a URL or a file, and judging what it printed."""

from __future__ import annotations

import os
import re
import time

import trio

RATE = 2  # VLC plays in real time even into its dummy output: twice as fast keeps this short
# What VLC prints when a playlist or a segment does not play (it exits 0 all the same); its
# "interface error" lines (no D-Bus, no hot keys in a headless run) are no trouble.
TROUBLE = re.compile(
    r"(demux|input|stream|decoder|packetizer|access) error|cannot|unable", re.IGNORECASE
)


async def play_to_the_end(
    vlc: list[str], home: str, target: str, seconds: float, *, at_least: float = 0.9
) -> str:
    """Play `target` (lasting `seconds`) at RATE until VLC exits; assert it exited cleanly,
    printed no trouble and took at least `at_least` of the time the audio lasts at that rate
    (VLC's dummy output ends each stream a little early); return what it printed."""
    command = [
        *vlc,
        "--play-and-exit",
        "--aout",
        "dummy",
        "--no-video",
        "--no-dbus",
        f"--rate={RATE}",
        target,
    ]
    started = time.monotonic()
    with trio.fail_after(seconds / RATE + 30):
        done = await trio.run_process(
            command,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            env={**os.environ, "HOME": home},
        )
    elapsed = time.monotonic() - started
    output = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode == 0, output
    assert [line for line in output.splitlines() if TROUBLE.search(line)] == [], output
    # It played to the end: it took about as long as the audio lasts at that rate.
    assert elapsed > at_least * seconds / RATE, (elapsed, output)
    return output
