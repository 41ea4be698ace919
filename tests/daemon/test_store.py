"""Job store: queue once per content, claim, interruptions, retries, pending pairs."""

from __future__ import annotations

from pathlib import Path

from daemon.store import JobStore


def store_at(tmp_path: Path) -> JobStore:
    return JobStore(tmp_path / "jobs.sqlite3")


def test_store_is_wal_and_survives_reopening(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    assert store.journal_mode() == "wal"
    store.offer(Path("/r/p"), Path("/r"), Path("/o/p"), "f1", 1.0)
    store.close()
    again = store_at(tmp_path)
    assert again.get(Path("/r/p")) is not None and again.get(Path("/r/p")).state == "queued"


def test_a_pair_is_queued_once_and_again_only_when_its_content_changes(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    pair = Path("/r/p")
    assert store.offer(pair, Path("/r"), Path("/o/p"), "f1", 1.0)[0] == "queued"
    job = store.claim(2.0)
    assert job is not None and job.state == "running" and job.attempts == 1
    assert store.offer(pair, Path("/r"), Path("/o/p"), "f2", 3.0)[0] == "busy"
    store.finish(job.id, "done", "", 4.0)
    assert store.offer(pair, Path("/r"), Path("/o/p"), "f1", 5.0)[0] == "unchanged"
    result, again = store.offer(pair, Path("/r"), Path("/o/p"), "f2", 6.0)
    assert result == "queued" and again is not None and again.force and again.attempts == 0
    assert store.claim(7.0).id == job.id
    assert store.claim(7.0) is None


def test_interrupted_jobs_are_requeued_then_failed_after_max_attempts(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    pair = Path("/r/p")
    store.offer(pair, Path("/r"), Path("/o/p"), "f1", 1.0)
    for attempt in (1, 2):
        store.claim(float(attempt))
        requeued, failed = store.recover(max_attempts=3, now_s=10.0)
        assert [j.pair for j in requeued] == [pair] and failed == []
    store.claim(3.0)
    requeued, failed = store.recover(max_attempts=3, now_s=11.0)
    assert requeued == [] and [j.pair for j in failed] == [pair]
    assert store.get(pair).state == "failed"


def test_graceful_requeue_does_not_count_an_attempt_and_retry_forces(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    pair = Path("/r/p")
    store.offer(pair, Path("/r"), Path("/o/p"), "f1", 1.0)
    job = store.claim(2.0)
    store.set_stage(job.id, "train", 2.5)
    assert store.get(pair).stage == "train"
    store.requeue(job.id, "stopping", 3.0)
    assert store.get(pair).attempts == 0 and store.get(pair).state == "queued"
    job = store.claim(4.0)
    store.finish(job.id, "failed", "bad", 5.0)
    assert store.retry(pair, 6.0).state == "queued"
    assert store.get(pair).force
    assert store.retry(Path("/r/unknown"), 6.0) is None
    assert store.counts() == {"queued": 1, "running": 0, "done": 0, "failed": 0}


def test_pending_pairs_and_failed_before_running(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    pair = Path("/r/p")
    store.set_pending(pair, "zoom: 3 of 6 projections", False, 1.0)
    store.set_pending(pair, "zoom: 3 of 6 projections", True, 9.0)
    [pending] = store.pending()
    assert pending.stalled and pending.since_s == 1.0
    store.record_failed(pair, Path("/r"), Path("/o/p"), "f1", "READY but incomplete", 10.0)
    assert store.pending() == []
    assert store.get(pair).state == "failed" and store.get(pair).stage == "check"


def test_a_second_requeue_of_the_same_job_changes_nothing(tmp_path: Path) -> None:
    """Double SIGTERM: the main loop abandons the job, then its thread raises Cancelled; attempts stay >= 0."""
    store = store_at(tmp_path)
    store.offer(Path("/r/p"), Path("/r"), Path("/o/p"), "f1", 1.0)
    job = store.claim(2.0)
    store.requeue(job.id, "interrupted (second signal)", 3.0)
    store.requeue(job.id, "interrupted: stop requested", 3.1)
    again = store.get(Path("/r/p"))
    assert again.state == "queued" and again.attempts == 0 and again.message == "interrupted (second signal)"


def test_a_job_stored_with_the_old_fingerprint_is_not_redone_after_an_upgrade(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    pair = Path("/r/p")
    store.offer(pair, Path("/r"), Path("/o/p"), "legacy-sha", 1.0)
    store.finish(store.claim(2.0).id, "done", "", 3.0)
    result, job = store.offer(pair, Path("/r"), Path("/o/p"), "v2:new", 4.0, legacy_fingerprint="legacy-sha")
    assert result == "unchanged" and job.fingerprint == "v2:new"
    assert store.offer(pair, Path("/r"), Path("/o/p"), "v2:new", 5.0)[0] == "unchanged"
    assert store.offer(pair, Path("/r"), Path("/o/p"), "v2:other", 6.0, legacy_fingerprint="legacy-sha")[0] == "queued"


def test_unwritten_failures_are_kept_until_cleared(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    store.record_unwritten(Path("/r/p"), Path("/o/p"), '{"stage": "check"}', 1.0)
    store.close()
    again = store_at(tmp_path)
    [item] = again.unwritten()
    assert item.pair == Path("/r/p") and item.out_dir == Path("/o/p") and item.body == '{"stage": "check"}'
    again.clear_unwritten(Path("/r/p"))
    assert again.unwritten() == []


def test_a_corrupt_store_raises_a_store_error_naming_the_file(tmp_path: Path) -> None:
    import pytest

    from daemon.store import StoreError

    (tmp_path / "jobs.sqlite3").write_bytes(b"garbage, not SQLite" * 200)
    with pytest.raises(StoreError, match=r"jobs.sqlite3: not a usable job store .*move it aside"):
        store_at(tmp_path)
