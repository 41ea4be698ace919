"""Where each running job is: its stage, the step inside it, the fraction done and an ETA.

Fed with the pipeline's typed events by listeners (the status page, the
systemd ``STATUS=`` line). The ETA is measured, not guessed: the rate of work
units (slabs, iterations) since the first progress event of the current step,
so a step that started slowly (compilation, caching) corrects itself.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from models.events import ProgressEvent, StageStarted, StepProgress, TrainingProgress


@dataclass(frozen=True)
class JobProgress:
    """One running job's position; times are seconds on the tracker's clock, ``eta_s`` None until measurable."""

    stage: str = "-"
    stage_started_s: float = 0.0
    step: str = ""
    done: int = 0
    total: int = 0
    fraction: float | None = None
    eta_s: float | None = None
    values: dict[str, float] = field(default_factory=dict)
    _anchor: tuple[float, int] | None = None  # (time, done) at the step's first progress event


def estimate_eta_s(anchor: tuple[float, int] | None, now_s: float, done: int, total: int) -> float | None:
    """Seconds left at the rate seen since ``anchor`` (time, done); None before any unit of work was measured."""
    if anchor is None or total <= 0 or done >= total:
        return 0.0 if total > 0 and done >= total else None
    t0, done0 = anchor
    elapsed, units = now_s - t0, done - done0
    if elapsed <= 0 or units <= 0:
        return None
    eta = (total - done) * elapsed / units
    return eta if math.isfinite(eta) else None


def format_duration(seconds: float | None) -> str:
    """``45 s``, ``6 min``, ``2 h 05 min``; ``?`` for unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min"


class ProgressTracker:
    """Thread-safe progress per job id (events arrive on worker threads, readers are other threads)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._jobs: dict[int, JobProgress] = {}
        self._lock = threading.Lock()

    def start(self, job_id: int) -> None:
        with self._lock:
            self._jobs[job_id] = JobProgress(stage_started_s=self.clock())

    def finish(self, job_id: int) -> None:
        with self._lock:
            self._jobs.pop(job_id, None)

    def update(self, job_id: int, event: ProgressEvent) -> JobProgress | None:
        """Apply ``event``; the job's new position (None for events that do not move it)."""
        now = self.clock()
        with self._lock:
            current = self._jobs.get(job_id, JobProgress(stage_started_s=now))
            if isinstance(event, StageStarted):
                current = JobProgress(stage=event.stage, stage_started_s=now)
            elif isinstance(event, StepProgress):
                current = self._stepped(current, event, now)
            else:
                return None
            self._jobs[job_id] = current
            return current

    @staticmethod
    def _stepped(current: JobProgress, event: StepProgress, now: float) -> JobProgress:
        step = event.step or ("train" if isinstance(event, TrainingProgress) else "")
        same_step = step == current.step and current._anchor is not None and event.done >= current.done
        anchor = current._anchor if same_step else (now, event.done)
        fraction = min(1.0, event.done / event.total) if event.total > 0 else None
        return replace(
            current,
            stage=event.stage or current.stage,
            step=step,
            done=event.done,
            total=event.total,
            fraction=fraction,
            eta_s=estimate_eta_s(anchor, now, event.done, event.total),
            values=dict(event.values),
            _anchor=anchor,
        )

    def get(self, job_id: int) -> JobProgress | None:
        with self._lock:
            return self._jobs.get(job_id)

    def all(self) -> dict[int, JobProgress]:
        with self._lock:
            return dict(self._jobs)
