"""Fault injection against a real ``scoutzoom watch`` process (issue 16): hostile input, two daemons,
links, SIGHUP with bad roots, a corrupt store, kill -9 at random moments.

Each case failed on the code before issue 16 (stalled loop, MemoryError, crash,
or silently wrong); the figures in the docstrings are what the old code did.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.daemon.conftest import REPO, DaemonProcess, wait_for
from tests.daemon.hostile_pairs import CORPUS
from tests.daemon.pairs import make_pair

CASE_TIMEOUT_S = 20.0  # hostile pair failed and the good pair done, on a loaded 2-core machine
PEAK_RSS_MIB = 600.0  # the daemon with the fake processor stays near 150 MiB; the old code reached 9.1 GB


def job_row(state_dir: Path, pair: Path) -> dict | None:
    with sqlite3.connect(state_dir / "jobs.sqlite3") as db:
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT * FROM jobs WHERE pair = ?", (str(pair),)).fetchone()
    return dict(row) if row else None


def snapshot(folder: Path) -> dict[str, tuple[int, int, int]]:
    """(mode, size, mtime_ns) of everything below ``folder``, links not followed."""
    found = {}
    for current, dirs, files in os.walk(folder):
        for name in [*dirs, *files]:
            info = os.lstat(Path(current) / name)
            found[str((Path(current) / name).relative_to(folder))] = (info.st_mode, info.st_size, info.st_mtime_ns)
    return found


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_hostile_pair_fails_clearly_while_a_good_pair_is_processed(daemon_process, case: str) -> None:
    daemon = daemon_process(jobs={"memory_budget_mb": 512})
    daemon.start()
    began = time.monotonic()
    staging = daemon.base / "staging" / case  # built beside the root, then moved in at once
    expected = CORPUS[case](staging)
    (staging / "READY").touch()
    hostile = daemon.root / case
    staging.rename(hostile)
    before = snapshot(hostile)
    make_pair(daemon.root / "good", fake={"stage_s": 0.05}, ready_file=True)

    failed_file = daemon.out / case / "FAILED.json"
    wait_for(lambda: failed_file.exists(), CASE_TIMEOUT_S, f"FAILED.json of {case}")
    wait_for(lambda: (daemon.out / "good" / "DONE").exists(), CASE_TIMEOUT_S, "the good pair's outputs")
    elapsed_s = time.monotonic() - began
    message = json.loads(failed_file.read_text())["message"]
    assert re.search(expected, message), message
    assert daemon.proc is not None and daemon.proc.poll() is None  # still up
    assert daemon.ledger("start", hostile) == []  # never processed
    assert snapshot(hostile) == before  # nothing the user gave was modified, added or deleted
    assert daemon.peak_rss_mib() < PEAK_RSS_MIB
    assert elapsed_s < CASE_TIMEOUT_S
    print(
        f"{case}: {elapsed_s:.1f} s to FAILED.json and DONE, peak RSS {daemon.peak_rss_mib():.0f} MiB, "
        f"CPU {daemon.cpu_s():.1f} s"
    )
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit(10) == 0  # signals honoured: the loop never blocked


def test_a_second_daemon_on_the_same_state_folder_exits_at_once_and_changes_nothing(
    daemon_process, tmp_path: Path
) -> None:
    """Old code: the second re-queued the first's running job and processed the same pair at the same time."""
    first = daemon_process()
    pair = make_pair(first.root / "p", fake={"stage_s": 1.0}, ready_file=True)
    first.start()
    wait_for(lambda: first.ledger("start", pair), 15, "job start")
    before = job_row(first.state, pair)
    assert before is not None and before["state"] == "running"

    second = DaemonProcess(tmp_path / "second", state=first.state)
    second.settings["metrics"]["port"] = first.port + 0  # same port too: it must not even try to bind it
    second.write_config()
    proc = second.launch()
    assert proc.wait(timeout=60) == 1
    output = second.log_path.read_text()
    assert f"another scoutzoom watch (PID {first.proc.pid}) already uses this state folder" in output
    assert "Traceback" not in output
    wait_for(lambda: (first.out / "p" / "DONE").exists(), 30, "the first daemon's outputs")
    wait_for(lambda: job_row(first.state, pair)["state"] == "done", 10, "the job to end")
    after = job_row(first.state, pair)
    assert after["attempts"] == before["attempts"] == 1 and "interrupted" not in after["message"]
    assert len(first.ledger("start", pair)) == 1  # processed once, by the first daemon only


def test_sighup_with_a_missing_watch_root_keeps_the_old_config(daemon_process) -> None:
    """Old code: the daemon crashed (rc 1) scheduling a watch on the missing folder."""
    daemon = daemon_process()
    daemon.start()
    daemon.settings["watch"]["roots"] = [str(daemon.base / "no-such-folder")]
    daemon.write_config()
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: b"config reload failed" in daemon.log_path.read_bytes(), 10, "the reload to be refused")
    assert b"no-such-folder is not a directory" in daemon.log_path.read_bytes()
    make_pair(daemon.root / "after-hup", fake={"stage_s": 0.05}, ready_file=True)
    wait_for(lambda: (daemon.out / "after-hup" / "DONE").exists(), 15, "a pair in the old root")
    assert daemon.proc.poll() is None


def test_an_output_root_containing_the_watch_root_is_refused(daemon_process) -> None:
    """Old code: every pair looked like our own output and was ignored; nothing said so."""
    daemon = daemon_process()
    daemon.settings["output"]["root"] = str(daemon.base)
    daemon.write_config()
    proc = daemon.launch()
    assert proc.wait(timeout=60) == 2
    assert "is above watch root" in daemon.log_path.read_text()


def test_a_corrupt_job_store_gives_a_message_not_a_traceback(daemon_process) -> None:
    daemon = daemon_process()
    daemon.state.mkdir(parents=True)
    (daemon.state / "jobs.sqlite3").write_bytes(b"this is not an SQLite database, just garbage" * 100)
    proc = daemon.launch()
    assert proc.wait(timeout=60) == 2
    output = daemon.log_path.read_text()
    assert "jobs.sqlite3: not a usable job store" in output and "move it aside" in output
    assert "Traceback" not in output


def test_recovered_symlink_inside_a_pair_is_not_written_through(daemon_process, tmp_path: Path) -> None:
    """Old code: DONE and the volume were written into the link's target, outside the pair."""
    daemon = daemon_process(pipeline={"output": {"inside_pair": True}})
    outside = tmp_path / "victim"
    outside.mkdir()
    pair = make_pair(daemon.root / "p", fake={"stage_s": 0.05})
    (pair / "recovered").symlink_to(outside)
    (pair / "READY").touch()
    daemon.start()
    wait_for(lambda: (job_row(daemon.state, pair) or {}).get("state") == "failed", 15, "the job to fail")
    assert "leads outside" in job_row(daemon.state, pair)["message"]
    assert list(outside.iterdir()) == []
    assert daemon.ledger("start", pair) == []


@pytest.mark.parametrize("target", ["inside", "outside"])
def test_symlinked_pairs_are_treated_the_same_at_start_and_at_run_time(
    daemon_process, tmp_path: Path, target: str
) -> None:
    """Old code: a linked pair was processed when created at run time but ignored when present at start."""
    daemon = daemon_process()
    home = daemon.root / "real" if target == "inside" else tmp_path / "elsewhere"
    make_pair(home / "a", fake={"stage_s": 0.05}, ready_file=True)
    make_pair(home / "b", fake={"stage_s": 0.05}, ready_file=True)
    (daemon.root / "linked-a").symlink_to(home / "a")  # present at start
    daemon.start()
    (daemon.root / "linked-b").symlink_to(home / "b")  # created while running
    if target == "inside":
        for name in ("linked-a", "linked-b"):
            wait_for(lambda name=name: (daemon.out / name / "DONE").exists(), 15, f"outputs of {name}")
    else:
        wait_for(lambda: daemon.log_path.read_bytes().count(b"pair ignored") >= 2, 15, "both links refused")
        time.sleep(1.5)
        assert not (daemon.out / "linked-a").exists() and not (daemon.out / "linked-b").exists()
        assert daemon.ledger("start") == []


def _kill_loop(daemon_process, iterations: int, seed: int) -> None:
    # each kill interrupts at most one running job, so with more attempts than kills no pair can be failed for
    # running out of them (that rule has its own test): every pair must end done, once
    daemon = daemon_process(settle_s=0.5, jobs={"max_attempts": iterations + 2})
    pairs = [make_pair(daemon.root / f"p{i}", fake={"stage_s": 0.15}, ready_file=True) for i in range(4)]
    rng = random.Random(seed)
    for _ in range(iterations):
        daemon.start()
        time.sleep(rng.uniform(0.1, 2.0))
        daemon.kill()
    daemon.start()
    wait_for(lambda: all((daemon.out / p.name / "DONE").exists() for p in pairs), 60, "every pair done")
    wait_for(
        lambda: all((job_row(daemon.state, p) or {}).get("state") in ("done", "failed") for p in pairs),
        10,
        "jobs ended",
    )
    for pair in pairs:
        assert len(daemon.ledger("done", pair)) == 1, pair  # processed to the end exactly once
        row = job_row(daemon.state, pair)
        assert row["attempts"] >= 0


def test_kill_9_at_random_moments_loses_nothing_and_does_nothing_twice(daemon_process) -> None:
    _kill_loop(daemon_process, iterations=3, seed=16)


@pytest.mark.slow
def test_kill_9_loop_long(daemon_process) -> None:
    _kill_loop(daemon_process, iterations=20, seed=1616)


def test_double_sigterm_never_leaves_negative_attempts(daemon_process) -> None:
    """Old code: the abandoned job was re-queued twice (main loop, then its thread): attempts = -1."""
    daemon = daemon_process(stop_timeout_s=30.0)
    pair = make_pair(daemon.root / "p", fake={"stage_s": 3.0}, ready_file=True)
    daemon.start()
    wait_for(lambda: daemon.ledger("start", pair), 15, "job start")
    daemon.signal(signal.SIGTERM)
    time.sleep(0.05)
    daemon.signal(signal.SIGTERM)
    daemon.wait_exit(10)
    row = job_row(daemon.state, pair)
    assert row["state"] == "queued" and row["attempts"] == 0


def test_check_config_style_refusal_lists_overlapping_roots(tmp_path: Path) -> None:
    from daemon.config import validate_config
    from daemon.config_checks import service_problems

    (tmp_path / "in" / "sub").mkdir(parents=True)
    config = validate_config(
        {
            "state_dir": str(tmp_path / "state"),
            "output": {"root": str(tmp_path / "in" / "out")},
            "watch": {"roots": [str(tmp_path / "in"), str(tmp_path / "in" / "sub")]},
        }
    )
    problems = service_problems(config)
    assert any("output.root" in p and "is inside watch root" in p for p in problems)
    assert any("watch.roots.0" in p and "each pair would be seen twice" in p for p in problems)


def test_watch_cli_is_importable_without_side_effects() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import daemon.lock, daemon.config_checks"], cwd=REPO, capture_output=True
    )
    assert result.returncode == 0


def _same_size_rewrite(path: Path, new_tail: bytes) -> None:
    data = bytearray(path.read_bytes())
    data[-len(new_tail) :] = new_tail
    path.write_bytes(bytes(data))


def test_a_preallocated_projection_is_waited_for_then_processed_once(daemon_process) -> None:
    """Old code: a file at its final size but not yet filled in was processed early (2/2) and never redone."""
    import tifffile

    daemon = daemon_process(settle_s=1.0)
    daemon.start()
    staging = daemon.base / "staging" / "p"
    make_pair(staging, fake={"stage_s": 0.05})
    victim = staging / "zoom" / "proj_00005.tif"
    real = victim.read_bytes()
    offset = tifffile.TiffFile(victim).pages[0].dataoffsets[0]
    victim.write_bytes(real[:offset] + b"\0" * (len(real) - offset))  # header written, pixels not yet
    pair = daemon.root / "p"
    staging.rename(pair)
    time.sleep(3.5)  # well past the settle time: the writer is paused
    assert daemon.ledger("start", pair) == []
    (pair / "zoom" / "proj_00005.tif").write_bytes(real)  # the writer resumes, same size
    wait_for(lambda: (daemon.out / "p" / "DONE").exists(), 15, "outputs once the file is filled in")
    time.sleep(1.0)
    assert len(daemon.ledger("start", pair)) == 1


def test_a_pair_reacquired_in_place_with_the_same_sizes_is_processed_again(daemon_process) -> None:
    """Old code: the fingerprint (names, sizes, scan.json) did not change, so the new data was never processed."""
    daemon = daemon_process(settle_s=1.0)
    pair = make_pair(daemon.root / "p", fake={"stage_s": 0.05}, ready_file=True)
    daemon.start()
    wait_for(lambda: len(daemon.ledger("done", pair)) == 1, 15, "the first run")
    for index in range(6):
        _same_size_rewrite(pair / "zoom" / f"proj_{index:05d}.tif", b"\x11\x22\x33\x44")
    wait_for(lambda: len(daemon.ledger("done", pair)) == 2, 15, "the second run")
