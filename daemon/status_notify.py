"""Progress that reaches the journal: systemd ``STATUS=`` lines from the running jobs, rate-limited.

A worker listener. ``systemctl status scoutzoom`` then shows e.g.
``sample-7: train 420/800 loss=0.0123 eta 6 min`` while an hour of CPU training
runs. A job's start and end are sent at once; progress at most once per
``interval_s``, so a fast loop never floods the notification socket.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from daemon import sdnotify
from daemon.store import Job
from daemon.web.progress import JobProgress, ProgressTracker, format_duration
from models.events import ProgressEvent, StageStarted
from pipeline.pair.process import ProcessOutcome

MAX_STATUS_CHARS = 240
SHOWN_VALUES = 2  # figures of a step shown (loss, val_loss)


def _pair_name(job: Job) -> str:
    try:
        return str(job.pair.relative_to(job.root)) or job.pair.name
    except ValueError:
        return job.pair.name


def describe(name: str, position: JobProgress | None) -> str:
    """``name: stage done/total k=v eta T`` (just ``name: stage`` before any progress)."""
    if position is None or position.stage == "-":
        return f"{name}: starting"
    text = f"{name}: {position.stage}"
    if position.step and position.step != position.stage:
        text += f" ({position.step})"
    if position.total > 0:
        text += f" {position.done}/{position.total}"
        text += "".join(f" {key}={value:.4g}" for key, value in list(position.values.items())[:SHOWN_VALUES])
        text += f" eta {format_duration(position.eta_s)}"
    return text


class StatusNotifier:
    """Sends ``STATUS=`` (via :func:`daemon.sdnotify.notify`, a no-op outside systemd) as jobs progress."""

    def __init__(
        self,
        notify: Callable[[str], bool] = sdnotify.notify,
        interval_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.notify = notify
        self.interval_s = interval_s
        self.clock = clock
        self.tracker = ProgressTracker(clock)
        self._names: dict[int, str] = {}
        self._last_sent_s: float | None = None
        self.last_status = ""

    def _send(self, idle_text: str = "", *, force: bool = False) -> None:
        now = self.clock()
        if not force and self._last_sent_s is not None and now - self._last_sent_s < self.interval_s:
            return
        positions = self.tracker.all()
        lines = [describe(name, positions.get(job_id)) for job_id, name in sorted(self._names.items())]
        text = "; ".join(lines) if lines else idle_text or "idle"
        if len(text) > MAX_STATUS_CHARS:
            text = text[: MAX_STATUS_CHARS - 1] + "…"
        self._last_sent_s = now
        self.last_status = text
        self.notify("STATUS=" + text)

    # -- JobListener ----------------------------------------------------------------
    def job_started(self, job: Job) -> None:
        self._names[job.id] = _pair_name(job)
        self.tracker.start(job.id)
        self._send(force=True)

    def job_event(self, job: Job, event: ProgressEvent) -> None:
        if self.tracker.update(job.id, event) is None:
            return
        self._send(force=False if not isinstance(event, StageStarted) else self._stage_due())

    def _stage_due(self) -> bool:
        """A new stage is worth a line when the last one is older than a tenth of the interval."""
        return self._last_sent_s is None or self.clock() - self._last_sent_s >= self.interval_s / 10

    def job_finished(self, job: Job, outcome: str, detail: ProcessOutcome | None) -> None:
        name = self._names.pop(job.id, _pair_name(job))
        self.tracker.finish(job.id)
        self._send(f"idle; last: {name} {outcome}", force=True)

    def pair_failed(self, job: Job, reasons: list[str]) -> None:
        """Not a running job: nothing to report."""
