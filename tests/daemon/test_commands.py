"""check-config, status and retry through the console script's entry point (in process: quick)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from daemon.cli import main
from daemon.store import JobStore


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def scoutzoom(capsys: pytest.CaptureFixture[str]):
    def run(*args: str) -> Result:
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def test_check_config_lists_every_problem(tmp_path: Path, scoutzoom) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[watch]\nroots = ["/nonexistent/scans"]\nsettle_s = "x"\n[metrics]\nprot = 1\n')
    result = scoutzoom("check-config", str(config))
    assert result.returncode == 2
    assert "watch.settle_s" in result.stderr and "metrics.prot: unknown key" in result.stderr

    config.write_text(f'state_dir = "{tmp_path}"\n[watch]\nroots = ["/nonexistent/scans"]\n')
    result = scoutzoom("check-config", str(config))
    assert result.returncode == 2 and "watch.roots.0: /nonexistent/scans is not a directory" in result.stderr

    scans = tmp_path / "scans"
    scans.mkdir()
    config.write_text(f'state_dir = "{tmp_path}"\n[watch]\nroots = ["{scans}"]\n')  # output root beside, not inside
    result = scoutzoom("check-config", str(config))
    assert result.returncode == 0, result.stderr


def test_status_and_retry(tmp_path: Path, scoutzoom) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    pair = (tmp_path / "p").resolve()
    store.offer(pair, tmp_path, tmp_path / "out", "f", 1.0)
    job = store.claim(2.0)
    store.finish(job.id, "failed", "registration failed", 3.0)
    store.set_pending(tmp_path / "q", "zoom: 3 of 6 projections", True, 1.0)
    store.close()

    status = scoutzoom("status", "--state-dir", str(tmp_path))
    assert status.returncode == 0, status.stderr
    assert "failed 1" in status.stdout and "STALLED" in status.stdout and "registration failed" in status.stdout

    retry = scoutzoom("retry", str(pair), "--state-dir", str(tmp_path))
    assert retry.returncode == 0, retry.stderr
    assert JobStore(tmp_path / "jobs.sqlite3").get(pair).state == "queued"
    assert scoutzoom("retry", str(tmp_path / "unknown"), "--state-dir", str(tmp_path)).returncode == 1
