"""docs/deployment.md's systemd unit is one systemd accepts, with the protections it names."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.support import require_tool

DOC = Path(__file__).resolve().parent.parent / "docs" / "deployment.md"


def unit_text() -> str:
    (unit,) = re.findall(r"```ini\n(.*?)```", DOC.read_text(), re.S)
    return str(unit)


def test_the_systemd_unit_verifies_and_confines_veza(tmp_path: Path) -> None:
    analyze = require_tool("systemd-analyze")
    unit = unit_text()
    settings = dict(
        line.split("=", 1) for line in unit.splitlines() if "=" in line and line[0] != "#"
    )
    assert settings["ProtectSystem"] == "strict" and settings["PrivateTmp"] == "yes"
    assert settings["NoNewPrivileges"] == "yes" and settings["Restart"] == "on-failure"
    assert settings["ReadWritePaths"] == "/var/lib/veza"
    assert settings["User"] == "veza" and "ReadOnlyPaths" in settings
    assert "--data-dir /var/lib/veza" in settings["ExecStart"]
    # The binary is not installed here: verify the unit around one that is.
    path = tmp_path / "veza.service"
    path.write_text(unit.replace("/usr/local/bin/veza", "/bin/true"))
    done = subprocess.run(
        [analyze, "verify", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and "veza.service" not in done.stderr, done.stderr
