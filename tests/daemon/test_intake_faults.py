"""Intake failures are per pair, never per pass (main loop stepped with a fake clock)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from daemon import readiness
from daemon.readiness import PairTracker
from tests.daemon.pairs import make_incomplete_pair, make_pair
from tests.daemon.test_service import Clock, make_daemon, quick, settle_jobs


def test_a_pair_whose_check_raises_does_not_stop_the_others(tmp_path: Path, monkeypatch) -> None:
    """Old code: a MemoryError from one pair (scan.json -> /dev/zero) aborted every tick's whole intake."""
    clock = Clock()
    daemon = make_daemon(tmp_path, quick, clock)
    bad = make_pair(tmp_path / "in" / "a-bad", ready_file=True)
    good = make_pair(tmp_path / "in" / "b-good", ready_file=True)
    real_check = readiness.check_pair

    def exploding(pair, *args, **kwargs):
        if pair == bad:
            raise MemoryError("reading scan.json")
        return real_check(pair, *args, **kwargs)

    monkeypatch.setattr(readiness, "check_pair", exploding)
    daemon.start()
    try:
        for _ in range(3):
            assert daemon.tick(clock.now)
            settle_jobs(daemon)
        assert daemon.store.get(good).state == "done"
        assert daemon.store.get(bad) is None
        [pending] = daemon.store.pending()
        assert pending.pair == bad and "MemoryError" in pending.reason
        assert bad in daemon.tracker  # still watched, checked again later
    finally:
        daemon.shutdown()


def test_a_ready_pair_whose_store_write_fails_is_kept_and_offered_again(tmp_path: Path, monkeypatch) -> None:
    """Old code: the tracker dropped the ready pair before the store write failed; it was forgotten."""
    clock = Clock()
    daemon = make_daemon(tmp_path, quick, clock)
    pair = make_pair(tmp_path / "in" / "p", ready_file=True)
    real_offer = daemon.store.offer
    failures = {"left": 2}

    def full_disk(*args, **kwargs):
        if failures["left"]:
            failures["left"] -= 1
            raise sqlite3.OperationalError("database or disk is full")
        return real_offer(*args, **kwargs)

    monkeypatch.setattr(daemon.store, "offer", full_disk)
    daemon.start()
    try:
        daemon.tick(clock.now)
        assert daemon.store.get(pair) is None and pair in daemon.tracker
        for _ in range(2):
            clock.now += 6  # past the retry delay
            daemon.tick(clock.now)
        settle_jobs(daemon)
        daemon.tick(clock.now)
        assert failures["left"] == 0
        assert daemon.store.get(pair).state == "done"
    finally:
        daemon.shutdown()


def test_a_ready_pair_still_being_copied_counts_as_one_failure(tmp_path: Path) -> None:
    """Old code: jobs_total{outcome="failed"} grew at every change while a READY pair was being copied."""
    clock = Clock()
    daemon = make_daemon(tmp_path, quick, clock, settle_s=1)
    pair = make_incomplete_pair(tmp_path / "in" / "p", ready_file=True)
    daemon.start()
    daemon._stop_intake()  # the test plays the watcher's part: file events would restart the settle clock
    try:
        for step in range(3):
            (pair / "zoom" / f"extra-{step}.txt").write_text("copy in progress")  # content changes, still incomplete
            clock.now = time.time() + 100 * (step + 1)  # quiet well past the settle time (real mtimes are older)
            daemon.tracker.touch(pair, tmp_path / "in", clock.now - 10)
            daemon.tick(clock.now)
            job = daemon.store.get(pair)
            assert job.state == "failed" and f"extra-{step}" not in job.message
            assert job.updated_s == clock.now  # failed again with the new content
        failed = daemon.metrics.registry.get_sample_value("scoutzoom_jobs_total", {"outcome": "failed"})
        assert failed == 1
    finally:
        daemon.shutdown()


def test_one_evaluate_pass_stops_at_its_time_budget(tmp_path: Path) -> None:
    pairs = [make_pair(tmp_path / f"p{i}") for i in range(3)]
    tracker = PairTracker(settle_s=0, stalled_after_s=100, recheck_s=1, budget_s=0.0)
    for pair in pairs:
        tracker.touch(pair, tmp_path, 0.0, changed=False)
    now = 10**10
    seen = []
    for _ in range(3):
        verdicts = tracker.evaluate(now)
        assert len(verdicts) == 1  # budget spent after the first pair; the others wait for the next pass
        seen.extend(v.pair for v in verdicts)
    assert sorted(seen) == pairs and len(tracker) == 0
