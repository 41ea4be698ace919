"""The unit file passes ``systemd-analyze verify`` and asks for what the issue requires."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.acquisition.reader import default_memory_budget_bytes

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "scoutzoom.service"
MAX_EXPOSURE = 2.5  # issue 16: `systemd-analyze security` was 4.4 before hardening


def directive(text: str, key: str) -> str:
    """The value of ``key=`` in the unit (exactly one such line)."""
    values = re.findall(rf"^{key}=(.*)$", text, re.M)
    assert len(values) == 1, f"{key}= set {len(values)} times"
    return values[0].strip()


def memory_fraction(value: str) -> float:
    """A MemoryHigh=/MemoryMax= given as a percentage of the RAM, as a fraction."""
    assert value.endswith("%"), f"{value}: expected a percentage of the RAM"
    return float(value[:-1]) / 100


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


def test_unit_limits_cpu_io_and_memory_for_a_scanner_pc() -> None:
    text = UNIT.read_text()
    assert int(directive(text, "Nice")) > 0
    assert 0 < int(directive(text, "CPUWeight")) < 100  # below the default weight of other services
    assert directive(text, "IOSchedulingClass") == "idle"
    high, hard = memory_fraction(directive(text, "MemoryHigh")), memory_fraction(directive(text, "MemoryMax"))
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert default_memory_budget_bytes() / ram < high < hard < 1.0  # the daemon's default budget below both
    assert "jobs.memory_budget_mb" in text  # the comment tells how the daemon's budget relates to the limits


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_unit_exposure_stays_low() -> None:
    command = ["systemd-analyze", "security", "--offline=yes", str(UNIT.resolve())]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert found, result.stdout + result.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    executable = Path(sys.executable).parent / "scoutzoom"
    unit = tmp_path / "scoutzoom.service"
    unit.write_text(UNIT.read_text().replace("/opt/scoutzoom/venv/bin/scoutzoom", str(executable)))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "scoutzoom.service" not in result.stderr  # no warnings about our unit
