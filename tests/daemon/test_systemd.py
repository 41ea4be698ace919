"""The unit file passes ``systemd-analyze verify`` and asks for what the issue requires."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "scoutzoom.service"


def test_unit_declares_notify_hardening_and_check_config() -> None:
    text = UNIT.read_text()
    for line in (
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "ReadWritePaths=",
        "User=scoutzoom",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ):
        assert line in text
    assert "ExecStartPre=/opt/scoutzoom/venv/bin/scoutzoom check-config" in text
    stop_s = int(text.split("TimeoutStopSec=")[1].split()[0])
    assert stop_s > 60  # longer than the default jobs.stop_timeout_s


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    executable = Path(sys.executable).parent / "scoutzoom"
    unit = tmp_path / "scoutzoom.service"
    unit.write_text(UNIT.read_text().replace("/opt/scoutzoom/venv/bin/scoutzoom", str(executable)))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "scoutzoom.service" not in result.stderr  # no warnings about our unit
