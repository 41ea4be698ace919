"""The main loop, one tick at a time with an injected clock: intake, dispatch, graceful stop."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from daemon.config import validate_config
from daemon.service import Daemon
from daemon.store import JobStore
from models.errors import Cancelled
from pipeline.pair.process import ProcessOutcome
from tests.daemon.pairs import make_pair


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def make_daemon(tmp_path: Path, processor, clock: Clock, **watch: float) -> Daemon:
    root = tmp_path / "in"
    root.mkdir(exist_ok=True)
    config = validate_config(
        {"state_dir": str(tmp_path / "state"), "watch": {"roots": [str(root)], "settle_s": 5, **watch}}
    )
    return Daemon(config, processor=processor, clock=clock, serve_metrics=False)


def quick(pair_dir: Path, out_dir: Path, config, *, progress=None, cancel=None, force=False) -> ProcessOutcome:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "DONE").write_text("")
    return ProcessOutcome(status="done", out_dir=out_dir, voxels_recovered=8)


def settle_jobs(daemon: Daemon) -> None:
    for running in list(daemon.running.values()):
        running.thread.join(5)


def test_a_pair_present_at_start_is_queued_after_settling_and_processed(tmp_path: Path) -> None:
    clock = Clock()
    daemon = make_daemon(tmp_path, quick, clock)
    pair = make_pair(tmp_path / "in" / "p")
    daemon.start()
    try:
        assert daemon.tick(clock.now)
        assert daemon.store.get(pair) is None  # files are fresh: settling
        clock.now += 6
        assert daemon.tick(clock.now)
        assert daemon.store.get(pair) is not None
        settle_jobs(daemon)
        assert daemon.tick(clock.now)
        job = daemon.store.get(pair)
        assert job.state == "done" and job.attempts == 1
        assert (daemon.config.output_root / "p" / "DONE").exists()
        assert daemon.running == {}
    finally:
        daemon.shutdown()


def test_stop_cancels_the_running_job_and_requeues_it(tmp_path: Path) -> None:
    clock = Clock()
    started = threading.Event()

    def blocking(pair_dir, out_dir, config, *, progress=None, cancel=None, force=False):
        started.set()
        while not cancel.cancelled:
            time.sleep(0.01)
        raise Cancelled("stop requested")

    daemon = make_daemon(tmp_path, blocking, clock)
    pair = make_pair(tmp_path / "in" / "p", ready_file=True)
    daemon.start()
    try:
        daemon.tick(clock.now)
        assert started.wait(5)
        assert daemon.store.get(pair).state == "running"
        daemon.request_stop()
        assert daemon.tick(clock.now)  # cancelling: still running
        settle_jobs(daemon)
        assert not daemon.tick(clock.now)  # stopped
        job = daemon.store.get(pair)
        assert job.state == "queued" and job.attempts == 0
    finally:
        daemon.shutdown()


def test_a_processor_exception_fails_the_job_and_the_loop_goes_on(tmp_path: Path) -> None:
    clock = Clock()

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    daemon = make_daemon(tmp_path, broken, clock)
    pair = make_pair(tmp_path / "in" / "p", ready_file=True)
    daemon.start()
    try:
        daemon.tick(clock.now)
        settle_jobs(daemon)
        assert daemon.tick(clock.now)
        job = daemon.store.get(pair)
        assert job.state == "failed" and "No space left" in job.message
        assert (daemon.config.output_root / "p" / "FAILED.json").exists()
    finally:
        daemon.shutdown()


def test_reload_keeps_the_old_config_when_the_new_one_is_invalid(tmp_path: Path) -> None:
    clock = Clock()
    daemon = make_daemon(tmp_path, quick, clock)

    def bad():
        return validate_config({"watch": {"settle_s": -1}})

    daemon._reload_config = bad
    daemon.start()
    try:
        daemon.request_reload()
        assert daemon.tick(clock.now)
        assert daemon.config.watch.settle_s == 5
        daemon._reload_config = lambda: validate_config(
            {"state_dir": str(tmp_path / "state"), "watch": {"roots": [str(tmp_path / "in")], "settle_s": 2}}
        )
        daemon.request_reload()
        daemon.tick(clock.now)
        assert daemon.config.watch.settle_s == 2 and daemon.tracker.settle_s == 2
    finally:
        daemon.shutdown()


def test_last_success_is_seeded_from_the_job_store_after_a_restart(tmp_path: Path) -> None:
    """The metric is the last done job's finish time, not 0, so 'no success for a day' does not fire on restart."""
    clock = Clock()
    first = make_daemon(tmp_path, quick, clock)
    first.start()
    try:
        assert first.metrics.registry.get_sample_value("scoutzoom_last_success_timestamp_seconds") == 0  # empty store
        pair = make_pair(tmp_path / "in" / "p", ready_file=True)
        first.tick(clock.now)
        settle_jobs(first)
        first.tick(clock.now)
        done_s = first.store.get(pair).finished_s
        assert first.store.get(pair).state == "done" and done_s == clock.now
    finally:
        first.shutdown()
    clock.now += 3600.0
    store = JobStore(first.config.store_path)  # a later pair that failed does not count
    store.record_failed(tmp_path / "in" / "q", tmp_path / "in", tmp_path / "out" / "q", "f", "incomplete", clock.now)
    store.close()

    clock.now += 3600.0
    second = make_daemon(tmp_path, quick, clock)
    second.start()
    try:
        assert second.metrics.registry.get_sample_value("scoutzoom_last_success_timestamp_seconds") == done_s
    finally:
        second.shutdown()
