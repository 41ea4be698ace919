"""Readiness: settle time, READY file, stalled and failed pairs, stepped with a fake clock."""

from __future__ import annotations

import time
from pathlib import Path

from daemon.readiness import PairTracker
from tests.daemon.pairs import make_incomplete_pair, make_pair


def kinds(tracker: PairTracker, now_s: float) -> list[str]:
    return [v.kind for v in tracker.evaluate(now_s)]


def test_complete_pair_is_ready_only_after_the_settle_time(tmp_path: Path) -> None:
    pair = make_pair(tmp_path / "p")
    now = time.time()
    tracker = PairTracker(settle_s=10, stalled_after_s=100, recheck_s=1)
    tracker.touch(pair, tmp_path, now)
    assert kinds(tracker, now + 1) == ["waiting"]
    assert kinds(tracker, now + 5) == []  # not due: next check at the end of the settle time
    tracker.touch(pair, tmp_path, now + 6)  # a change restarts the clock
    assert kinds(tracker, now + 12) == ["waiting"]
    assert kinds(tracker, now + 16.5) == ["ready"]
    assert pair not in tracker


def test_a_pair_found_by_a_scan_with_old_files_is_ready_at_once(tmp_path: Path) -> None:
    pair = make_pair(tmp_path / "p")
    tracker = PairTracker(settle_s=10, stalled_after_s=100, recheck_s=1)
    later = time.time() + 60  # files are a minute old by then
    tracker.touch(pair, tmp_path, later, changed=False)
    [verdict] = tracker.evaluate(later)
    assert verdict.kind == "ready" and verdict.fingerprint.startswith("v2:")


def test_ready_file_skips_settling_but_an_incomplete_pair_fails_after_it(tmp_path: Path) -> None:
    now = time.time()
    tracker = PairTracker(settle_s=10, stalled_after_s=100, recheck_s=1)
    ready = make_pair(tmp_path / "ready", ready_file=True)
    broken = make_incomplete_pair(tmp_path / "broken", ready_file=True)
    tracker.touch(ready, tmp_path, now)
    tracker.touch(broken, tmp_path, now)
    assert sorted(kinds(tracker, now + 0.5)) == ["ready", "waiting"]
    [verdict] = tracker.evaluate(now + 11)
    assert verdict.kind == "failed" and "5 of 6 projections" in verdict.reason


def test_incomplete_pair_without_ready_file_is_stalled_not_failed(tmp_path: Path) -> None:
    now = time.time()
    pair = make_incomplete_pair(tmp_path / "p", ready_file=False)
    tracker = PairTracker(settle_s=1, stalled_after_s=30, recheck_s=5)
    tracker.touch(pair, tmp_path, now)
    assert kinds(tracker, now + 2) == ["waiting"]
    [verdict] = tracker.evaluate(now + 31)
    assert verdict.kind == "stalled" and "projections" in verdict.reason
    assert pair in tracker


def test_removed_pair_is_gone(tmp_path: Path) -> None:
    pair = make_pair(tmp_path / "p")
    tracker = PairTracker(settle_s=1, stalled_after_s=30, recheck_s=5)
    tracker.touch(pair, tmp_path, time.time())
    import shutil

    shutil.rmtree(pair)
    assert kinds(tracker, time.time() + 1) == ["gone"]
    assert len(tracker) == 0
