"""A full disk under the job store and under the output root (real daemon, small tmpfs; needs root).

Old code: a pair that became ready while the store's disk was full was
forgotten (``retry`` said "not a known job") until something else happened in
it; with the output root full the job failed but no FAILED.json was ever
written and nothing said so.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon.conftest import wait_for
from tests.daemon.pairs import make_pair


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted for the test (skipped where we may not mount)."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def fill(folder: Path) -> Path:
    """Fill the file system of ``folder`` to the last byte; the filler file to delete later."""
    filler = folder / "filler.bin"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError as error:
            assert error.errno == errno.ENOSPC
    return filler


def job_state(store: Path, pair: Path) -> str | None:
    import sqlite3

    with sqlite3.connect(store) as db:
        row = db.execute("SELECT state FROM jobs WHERE pair = ?", (str(pair),)).fetchone()
    return row[0] if row else None


def test_a_pair_ready_while_the_store_disk_is_full_is_kept_and_processed_later(
    small_disk: Path, daemon_process, tmp_path: Path
) -> None:
    daemon = daemon_process(state=small_disk / "state", out=tmp_path / "out")
    daemon.start()
    filler = fill(small_disk)
    pair = make_pair(daemon.root / "p", fake={"stage_s": 0.05}, ready_file=True)
    wait_for(lambda: b"pair not recorded; will retry" in daemon.log_path.read_bytes(), 20, "the store write to fail")
    assert daemon.proc.poll() is None
    filler.unlink()
    wait_for(lambda: (daemon.out / "p" / "DONE").exists(), 30, "the pair processed once space returned")
    assert job_state(daemon.state / "jobs.sqlite3", pair) in ("running", "done")


def test_failed_json_that_cannot_be_written_is_kept_and_written_when_space_returns(
    small_disk: Path, daemon_process
) -> None:
    daemon = daemon_process(out=small_disk / "out")
    daemon.out.mkdir()
    filler = fill(small_disk)
    pair = make_pair(daemon.root / "p", fake={"stage_s": 0.05}, ready_file=True)
    daemon.start()
    wait_for(lambda: job_state(daemon.state / "jobs.sqlite3", pair) == "failed", 20, "the job to fail on the full disk")
    assert not (daemon.out / "p" / "FAILED.json").exists()
    wait_for(
        lambda: (
            b"FAILED.json not written" in daemon.log_path.read_bytes()
            or b"kept in the job store" in daemon.log_path.read_bytes()
            or _unwritten(daemon.state)
        ),
        10,
        "the record",
    )
    assert _unwritten(daemon.state) == [str(pair)]
    filler.unlink()
    wait_for(lambda: (daemon.out / "p" / "FAILED.json").exists(), 15, "FAILED.json written late")
    body = json.loads((daemon.out / "p" / "FAILED.json").read_text())
    assert "No space left on device" in body["message"]
    wait_for(lambda: _unwritten(daemon.state) == [], 5, "the record cleared")


def _unwritten(state: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(state / "jobs.sqlite3") as db:
        return [row[0] for row in db.execute("SELECT pair FROM unwritten_failures")]
