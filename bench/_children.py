"""What the benchmarks share: child processes started, pinned to a core and stopped, the URL
a Veza (or peer) server says it listens on, a free port. Imported by the bench scripts (run as
`python bench/NAME.py`, so this folder is on sys.path)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_LISTENING = re.compile(r"listening on (http://[^\s;]+)")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEZA_")}
    env.update(extra)
    return env


def pinned(cpu: str | None, command: list[str]) -> list[str]:
    return ["taskset", "-c", cpu, *command] if cpu else command


@contextmanager
def child(
    command: list[str], log: Path, env: dict[str, str], cwd: Path = ROOT
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process, its output in `log`. `python -m veza` imports the package from `cwd`
    (it comes first on sys.path, before PYTHONPATH)."""
    with log.open("wb") as out:  # a fresh log: its "listening on" line is this run's
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for_url(process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _LISTENING.search(log.read_text(errors="replace"))
        if found:
            return found.group(1)
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()}")
        time.sleep(0.05)
    raise TimeoutError(f"server did not start:\n{log.read_text()}")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_ns(pids: list[int]) -> int:
    """CPU time used so far by every thread of these processes and their children
    (schedstat: time on a CPU, in ns)."""
    total = 0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
                children = [int(c) for c in (task / "children").read_text().split()]
            except (OSError, ValueError, IndexError):
                continue  # a thread that ended meanwhile
            total += cpu_ns(children)
    return total
