"""Run `veza` as a real child process, as a user or an init system would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

_LISTENING = re.compile(r"listening on (http://[^\s;]+)")


def veza_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "veza", *args]


def clean_environment(**extra: str) -> dict[str, str]:
    """The test process's environment without any VEZA_* settings of the developer's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEZA_")}
    env.update(extra)
    return env


def run_veza(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        veza_command(*args),
        env=clean_environment(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class ServeProcess:
    """`veza serve` on an ephemeral port; `url` is read from its start-up log line."""

    def __init__(
        self,
        data_dir: Path,
        *extra: str,
        program: list[str] | None = None,
        environment: dict[str, str] | None = None,
        **env: str,
    ) -> None:
        """`program`: the command instead of this Python's `veza` (the one-file build);
        `environment`: exactly these variables instead of this process's (`env -i`)."""
        self.log_path = data_dir.parent / f"serve-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                *(program or veza_command()),
                *("serve", "--port", "0", "--data-dir", str(data_dir), *extra),
            ],
            env=clean_environment(**env) if environment is None else environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.url = self._wait_for_url()

    def _wait_for_url(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = _LISTENING.search(self.log())
            if found:
                return found.group(1)
            if self.process.poll() is not None:
                raise RuntimeError(f"veza serve exited early:\n{self.log()}")
            time.sleep(0.05)
        raise TimeoutError(f"veza serve did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text()

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10)

    def stop(self, signum: int, timeout: float = 10) -> tuple[int, float]:
        """Send a signal; return the exit code and how long the process took to exit."""
        started = time.monotonic()
        self.process.send_signal(signum)
        code = self.process.wait(timeout=timeout)
        self._log.close()
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()


def wait_until(condition: Callable[[], bool], seconds: float = 60) -> None:
    """Poll what a child process does (a file, a database row) until `condition` holds."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.05)


def live_children() -> list[str]:
    """Live (not yet reaped or still running) child processes of this test process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rfind(")") + 2 :].split()
        if int(fields[1]) == os.getpid():
            found.append(raw[raw.find("(") + 1 : raw.rfind(")")])
    return found
