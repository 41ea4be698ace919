"""A real ``scoutzoom watch`` process: arrivals, crashes, bad pairs, metrics, graceful stop."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.daemon.conftest import wait_for
from tests.daemon.pairs import make_incomplete_pair, make_pair, trickle_pair


def job_state(state_dir: Path, pair: Path) -> str | None:
    with sqlite3.connect(state_dir / "jobs.sqlite3") as db:
        row = db.execute("SELECT state FROM jobs WHERE pair = ?", (str(pair),)).fetchone()
    return row[0] if row else None


def test_pair_written_file_by_file_is_processed_once_after_the_last_file(daemon_process) -> None:
    daemon = daemon_process(settle_s=1.0)
    daemon.start()
    pair = daemon.root / "lab" / "sample-1"
    last_file_s = trickle_pair(pair, 0.25, fake={"stage_s": 0.05})  # 12 projections over 3 s

    wait_for(lambda: (daemon.out / "lab" / "sample-1" / "DONE").exists(), 20, "outputs")
    time.sleep(1.5)  # room for a second (wrong) run
    starts = daemon.ledger("start", pair)
    assert len(starts) == 1
    assert starts[0][0] >= last_file_s + 0.9  # after the last file and the settle time
    assert len(daemon.ledger("done", pair)) == 1
    assert (daemon.out / "lab" / "sample-1" / "recovered.ome.tif").read_text() == "fake volume\n"


def test_kill_9_during_a_job_then_restart_completes_it_once(daemon_process) -> None:
    daemon = daemon_process()
    pair = make_pair(daemon.root / "p", fake={"stage_s": 0.4}, ready_file=True)
    daemon.start()
    wait_for(lambda: daemon.ledger("start", pair), 15, "job start")
    time.sleep(0.6)
    daemon.kill()
    assert job_state(daemon.state, pair) == "running"
    assert not (daemon.out / "p" / "DONE").exists()

    daemon.start()
    wait_for(lambda: (daemon.out / "p" / "DONE").exists(), 20, "outputs after restart")
    time.sleep(0.5)
    assert len(daemon.ledger("start", pair)) == 2
    assert len(daemon.ledger("done", pair)) == 1
    assert job_state(daemon.state, pair) == "done"
    assert (daemon.out / "p" / "recovered.ome.tif").read_text() == "fake volume\n"
    assert json.loads((daemon.out / "p" / "report.json").read_text())["pair"] == str(pair)


def test_bad_pairs_fail_while_a_good_pair_is_processed_and_metrics_count_them(daemon_process) -> None:
    daemon = daemon_process()
    daemon.start()
    incomplete = make_incomplete_pair(daemon.root / "incomplete", ready_file=True)
    rejected = make_pair(daemon.root / "rejected", fake={"fail": True, "stage_s": 0.05})
    crashing = make_pair(daemon.root / "crashing", fake={"raise": True})
    good = make_pair(daemon.root / "good", fake={"stage_s": 0.05})

    for name in ("incomplete", "rejected", "crashing"):
        wait_for(lambda name=name: (daemon.out / name / "FAILED.json").exists(), 20, f"FAILED.json of {name}")
    wait_for(lambda: (daemon.out / "good" / "DONE").exists(), 20, "good pair outputs")
    wait_for(lambda: job_state(daemon.state, good) == "done", 5, "good job done")

    failed = json.loads((daemon.out / "incomplete" / "FAILED.json").read_text())
    assert "5 of 6 projections" in failed["message"]
    assert "RuntimeError" in json.loads((daemon.out / "crashing" / "FAILED.json").read_text())["message"]
    assert not (daemon.out / "rejected" / "DONE").exists()
    assert [job_state(daemon.state, p) for p in (incomplete, rejected, crashing)] == ["failed"] * 3
    assert daemon.proc is not None and daemon.proc.poll() is None  # still alive

    metrics = daemon.metrics()
    assert metrics['scoutzoom_jobs_total{outcome="done"}'] == 1
    assert metrics['scoutzoom_jobs_total{outcome="failed"}'] == 3
    assert metrics['scoutzoom_jobs_total{outcome="requeued"}'] == 0
    assert metrics["scoutzoom_voxels_recovered_total"] == 1000
    assert metrics['scoutzoom_model_cache_total{result="miss"}'] == 1
    assert metrics["scoutzoom_training_loss"] == 0.125
    assert metrics['scoutzoom_stage_seconds_count{stage="write"}'] == 1
    assert metrics["scoutzoom_jobs_in_progress"] == 0
    assert metrics["scoutzoom_queue_depth"] == 0
    assert metrics["scoutzoom_last_success_timestamp_seconds"] > time.time() - 60
    assert metrics['scoutzoom_build_info{version="0.1.0"}'] == 1
    if shutil.which("promtool"):
        check = subprocess.run(
            ["promtool", "check", "metrics"], input=daemon.raw_metrics(), capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout + check.stderr


def test_sigterm_during_a_job_exits_cleanly_and_the_job_finishes_after_restart(daemon_process) -> None:
    daemon = daemon_process(stop_timeout_s=10.0)
    pair = make_pair(daemon.root / "p", fake={"stage_s": 0.4}, ready_file=True)
    daemon.start()
    wait_for(lambda: daemon.ledger("start", pair), 15, "job start")
    began = time.monotonic()
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit(10) == 0
    assert time.monotonic() - began < 5.0
    assert len(daemon.ledger("cancelled", pair)) == 1
    assert job_state(daemon.state, pair) == "queued"
    assert b'"stopping"' in daemon.log_path.read_bytes()

    daemon.start()
    wait_for(lambda: (daemon.out / "p" / "DONE").exists(), 20, "outputs after restart")
    assert len(daemon.ledger("done", pair)) == 1


def test_ready_file_skips_settling_and_fails_an_incomplete_pair_until_it_is_completed(daemon_process) -> None:
    daemon = daemon_process(settle_s=4.0)
    daemon.start()
    made_s = time.monotonic()
    make_pair(daemon.root / "ready", fake={"stage_s": 0.05}, ready_file=True)
    incomplete = make_incomplete_pair(daemon.root / "incomplete", ready_file=True)
    wait_for(lambda: (daemon.out / "ready" / "DONE").exists(), 10, "READY pair outputs")
    assert time.monotonic() - made_s < 3.5  # did not wait for the 4 s settle time
    assert not (daemon.out / "incomplete" / "FAILED.json").exists()  # still within its settle time

    wait_for(lambda: (daemon.out / "incomplete" / "FAILED.json").exists(), 10, "FAILED.json of the incomplete pair")
    assert daemon.ledger("start", incomplete) == []  # never processed half

    # the scanner finishes writing: content changed, so it is processed after all
    make_pair(daemon.base / "complete-copy")
    for name in ("proj_00002.tif", "proj_00005.tif"):
        shutil.copy(daemon.base / "complete-copy" / "zoom" / name, incomplete / "zoom" / name)
    wait_for(lambda: (daemon.out / "incomplete" / "DONE").exists(), 15, "outputs once completed")
