"""The status page's listener: what the job store does not know (progress, live verdicts, cache decisions).

A worker ``JobListener`` like metrics and logs. It keeps only the running jobs'
positions and the model cache's decisions since the daemon started; everything
durable is read from the job store and the pairs' ``report.json``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from daemon.store import Job
from daemon.web.progress import JobProgress, ProgressTracker
from models.events import Assessed, CacheDecided, Message, ProgressEvent
from pipeline.pair.process import ProcessOutcome

CACHE_RESULTS = ("hit", "miss", "rejected")


@dataclass(frozen=True)
class LiveVerdict:
    """The trust verdict of a job assessed in this run (before its report is written)."""

    flagged: bool
    reasons: tuple[str, ...]
    psnr_gain_db: float | None
    feature_recall: float | None


class LiveStatus:
    """Implements the worker's listener protocol; read by the status page from other threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.progress = ProgressTracker(clock)
        self._lock = threading.Lock()
        self._verdicts: dict[int, LiveVerdict] = {}
        self._messages: dict[int, str] = {}
        self._cache = {result: 0 for result in CACHE_RESULTS}

    # -- JobListener ------------------------------------------------------------
    def job_started(self, job: Job) -> None:
        self.progress.start(job.id)
        with self._lock:
            self._verdicts.pop(job.id, None)
            self._messages.pop(job.id, None)

    def job_event(self, job: Job, event: ProgressEvent) -> None:
        self.progress.update(job.id, event)
        with self._lock:
            if isinstance(event, Assessed):
                self._verdicts[job.id] = LiveVerdict(
                    event.flagged, tuple(event.reasons), event.psnr_gain_db, event.feature_recall
                )
            elif isinstance(event, CacheDecided) and event.result in self._cache:
                self._cache[event.result] += 1
            elif isinstance(event, Message) and event.message:
                self._messages[job.id] = event.message

    def job_finished(self, job: Job, outcome: str, detail: ProcessOutcome | None) -> None:
        self.progress.finish(job.id)

    def pair_failed(self, job: Job, reasons: list[str]) -> None:
        """Nothing to track: the store holds the failure."""

    # -- readers ------------------------------------------------------------------
    def position(self, job_id: int) -> JobProgress | None:
        return self.progress.get(job_id)

    def verdict(self, job_id: int) -> LiveVerdict | None:
        with self._lock:
            return self._verdicts.get(job_id)

    def last_message(self, job_id: int) -> str | None:
        with self._lock:
            return self._messages.get(job_id)

    def cache_decisions(self) -> dict[str, int]:
        """Look-ups since the daemon started, by result."""
        with self._lock:
            return dict(self._cache)
