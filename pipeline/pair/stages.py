"""Running named stages: timing, peak memory, progress events, failure attribution."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from models.events import (
    CancelToken,
    ProgressCallback,
    ProgressEvent,
    StageFinished,
    StageName,
    StageStarted,
    StepProgress,
    emit,
)
from pipeline.pair.report import StageTiming


def current_rss_mb() -> float | None:
    """Resident set size of this process (Linux ``/proc``), MB; None elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


class _PeakSampler:
    """Samples RSS in a background thread while a stage runs."""

    def __init__(self, interval_s: float = 0.1) -> None:
        self.interval_s = interval_s
        self.peak_mb = current_rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            value = current_rss_mb()
            if value is not None and (self.peak_mb is None or value > self.peak_mb):
                self.peak_mb = value

    def __enter__(self) -> _PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class StageRunner:
    """Owns the stage boundaries of a pair: times each stage once, records its peak memory, emits
    :class:`StageStarted` / :class:`StageFinished`, and remembers the current stage (failures are
    attributed to it)."""

    def __init__(self, progress: ProgressCallback | None, cancel: CancelToken | None) -> None:
        self.progress = progress
        self.cancel = cancel or CancelToken()
        self.timings: dict[str, StageTiming] = {}
        self.current: StageName | None = None

    def inner(self, event: ProgressEvent) -> None:
        """The callback handed to library functions: their events are labelled with the current stage
        (a step's own name is kept in ``StepProgress.step``); stage boundaries are the runner's alone."""
        if self.progress is None or isinstance(event, StageStarted | StageFinished):
            return
        if self.current is not None and event.stage != self.current:
            extra = {"step": event.step or event.stage} if isinstance(event, StepProgress) else {}
            event = dataclasses.replace(event, stage=self.current, **extra)
        self.progress(event)

    @contextlib.contextmanager
    def stage(self, name: StageName) -> Iterator[None]:
        self.cancel.raise_if_cancelled(f"before {name}")
        self.current = name
        emit(self.progress, StageStarted(stage=name))
        start = time.perf_counter()
        with _PeakSampler() as sampler:
            yield
        seconds = time.perf_counter() - start
        peak = round(sampler.peak_mb, 1) if sampler.peak_mb else None
        self.timings[name] = StageTiming(seconds=round(seconds, 3), peak_memory_mb=peak)
        emit(self.progress, StageFinished(stage=name, seconds=seconds, peak_memory_mb=peak))
