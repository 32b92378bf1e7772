"""VLC (Debian's package) plays Veza's master playlist to its end, with no demux error."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from tests.players.tracks import import_music, listener, stream_url
from tests.support import unavailable
from tests.support.server import RunningServer
from tests.support.tracks import wait_for_track

SECONDS = 30
RATE = 2  # VLC plays in real time even into its dummy output: twice as fast keeps this short
# What VLC prints when a playlist or a segment does not play (it exits 0 all the same); its
# "interface error" lines (no D-Bus, no hot keys in a headless run) are no trouble.
TROUBLE = re.compile(
    r"(demux|input|stream|decoder|packetizer|access) error|cannot|unable", re.IGNORECASE
)


@pytest.fixture
def vlc(cvlc: str) -> list[str]:
    """The command that starts VLC. VLC refuses to run as root ("VLC is not supposed to be run
    as root"): as root (CI, containers), it runs as nobody through util-linux's setpriv."""
    if os.geteuid() != 0:
        return [cvlc]
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        unavailable("VLC refuses to run as root, and setpriv (util-linux) is missing")
    return [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", cvlc]


@pytest.fixture
def vlc_home() -> Iterator[str]:
    """VLC's own home (its settings, its cache), writable by the user it may run as: not under
    pytest's temporary folders, which only root may enter."""
    with tempfile.TemporaryDirectory(prefix="veza-vlc-") as home:
        Path(home).chmod(0o777)
        yield home


@pytest.mark.slow
@pytest.mark.usefixtures("ffmpeg")
async def test_vlc_plays_the_master_to_its_end_without_errors(
    server: RunningServer, tmp_path: Path, vlc: list[str], vlc_home: str
) -> None:
    who = await listener(server)
    track_id = await import_music(server, tmp_path, who, SECONDS)
    assert (await wait_for_track(server, track_id)).status == "ready"
    url = await stream_url(server, who, track_id)
    command = [
        *vlc,
        "--play-and-exit",
        "--aout",
        "dummy",
        "--no-video",
        "--no-dbus",
        f"--rate={RATE}",
        url,
    ]
    started = time.monotonic()
    with trio.fail_after(SECONDS / RATE + 30):
        done = await trio.run_process(
            command,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            env={**os.environ, "HOME": vlc_home},
        )
    elapsed = time.monotonic() - started
    output = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode == 0, output
    assert [line for line in output.splitlines() if TROUBLE.search(line)] == [], output
    # It played to the end: it took as long as the track lasts at that rate, not less.
    assert elapsed > 0.9 * SECONDS / RATE, (elapsed, output)
