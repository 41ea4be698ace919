"""Progress positions and ETAs (daemon.web.progress), and the systemd STATUS= lines (daemon.status_notify)."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.status_notify import StatusNotifier, describe
from daemon.store import Job
from daemon.web.progress import ProgressTracker, estimate_eta_s, format_duration
from models.events import Message, StageStarted, StepProgress, training_step


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _job(job_id: int = 1, name: str = "sample-7") -> Job:
    return Job(
        id=job_id,
        pair=Path("/scans") / name,
        root=Path("/scans"),
        out_dir=Path("/out") / name,
        fingerprint="f",
        state="running",
        attempts=1,
        created_s=0.0,
        updated_s=0.0,
    )


@pytest.mark.parametrize(
    ("anchor", "now", "done", "total", "expected"),
    [
        (None, 10.0, 5, 10, None),  # nothing measured yet
        ((0.0, 0), 10.0, 5, 10, 10.0),  # 5 units in 10 s, 5 left
        ((0.0, 2), 10.0, 4, 10, 30.0),  # rate from the anchor: 2 units in 10 s, 6 left
        ((0.0, 4), 10.0, 4, 10, None),  # no unit done since the anchor
        ((0.0, 0), 10.0, 10, 10, 0.0),  # finished
    ],
)
def test_eta_is_the_remaining_work_at_the_measured_rate(anchor, now, done, total, expected) -> None:
    assert estimate_eta_s(anchor, now, done, total) == expected


@pytest.mark.parametrize(("seconds", "text"), [(None, "?"), (45, "45 s"), (360, "6 min"), (7500, "2 h 05 min")])
def test_durations_read_as_a_person_says_them(seconds, text) -> None:
    assert format_duration(seconds) == text


def test_tracker_follows_stage_and_step_and_restarts_the_rate_at_a_new_step() -> None:
    clock = Clock()
    tracker = ProgressTracker(clock)
    tracker.start(1)
    tracker.update(1, StageStarted("reconstruct_zoom"))
    tracker.update(1, StepProgress("reconstruct_zoom", done=1, total=9, step="reconstruct"))
    clock.now += 20
    position = tracker.update(1, StepProgress("reconstruct_zoom", done=5, total=9, step="reconstruct"))
    assert position is not None and position.fraction == pytest.approx(5 / 9) and position.eta_s == pytest.approx(20.0)
    clock.now += 5
    position = tracker.update(1, StepProgress("reconstruct_zoom", done=1, total=100, step="filter"))
    assert position is not None and position.step == "filter" and position.eta_s is None
    assert tracker.update(1, Message("reconstruct_zoom", message="hello")) is None
    tracker.finish(1)
    assert tracker.get(1) is None


def test_status_line_names_pair_stage_progress_loss_and_eta() -> None:
    clock, sent = Clock(), []
    notifier = StatusNotifier(lambda state: sent.append(state) or True, interval_s=30, clock=clock)
    job = _job()
    notifier.job_started(job)
    assert sent == ["STATUS=sample-7: starting"]
    notifier.job_event(job, StageStarted("train"))
    training_step(lambda e: notifier.job_event(job, e), 100, 800, loss=0.0123)
    clock.now += 60
    training_step(lambda e: notifier.job_event(job, e), 420, 800, loss=0.0101)
    assert sent[-1] == "STATUS=sample-7: train 420/800 loss=0.0101 eta 71 s"  # 320 in 60 s, 380 left
    notifier.job_finished(job, "done", None)
    assert sent[-1] == "STATUS=idle; last: sample-7 done"


def test_status_lines_are_rate_limited_but_job_boundaries_are_not() -> None:
    clock, sent = Clock(), []
    notifier = StatusNotifier(lambda state: sent.append(state) or True, interval_s=30, clock=clock)
    job = _job()
    notifier.job_started(job)
    for done in range(1, 500):  # a fast loop: 499 events within 5 s
        clock.now += 0.01
        training_step(lambda e: notifier.job_event(job, e), done, 1000, loss=1.0)
    assert len(sent) == 1
    clock.now += 30
    training_step(lambda e: notifier.job_event(job, e), 500, 1000, loss=1.0)
    notifier.job_finished(job, "failed", None)
    assert len(sent) == 3 and sent[-1].endswith("failed")


def test_two_jobs_share_one_line_and_long_lines_are_cut() -> None:
    clock, sent = Clock(), []
    notifier = StatusNotifier(lambda state: sent.append(state) or True, clock=clock)
    notifier.job_started(_job(1, "a"))
    notifier.job_started(_job(2, "b" * 300))
    assert sent[-1].startswith("STATUS=a: starting; bbb") and len(sent[-1]) <= len("STATUS=") + 240
    assert describe("x", None) == "x: starting"
