"""Running named stages: timing, peak memory, progress events, failure attribution."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from models.events import CancelToken, ProgressCallback, ProgressEvent, emit
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
    """Times stages, records peak memory, emits start/finish events, and remembers the current stage."""

    def __init__(self, progress: ProgressCallback | None, cancel: CancelToken | None) -> None:
        self.progress = progress
        self.cancel = cancel or CancelToken()
        self.timings: dict[str, StageTiming] = {}
        self.current: str | None = None

    def inner(self, event: ProgressEvent) -> None:
        """The callback handed to stage functions: their own stage boundaries are dropped (the runner
        owns those, so each stage is timed once) and their events are labelled with the current stage."""
        if self.progress is None or event.kind in ("stage_started", "stage_finished"):
            return
        if self.current is not None and event.stage != self.current:
            event = ProgressEvent(stage=self.current, kind=event.kind, done=event.done, total=event.total,
                                  values=event.values, message=event.message or event.stage)
        self.progress(event)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.cancel.raise_if_cancelled(f"before {name}")
        self.current = name
        emit(self.progress, ProgressEvent(stage=name, kind="stage_started"))
        start = time.perf_counter()
        with _PeakSampler() as sampler:
            yield
        seconds = time.perf_counter() - start
        self.timings[name] = StageTiming(seconds=round(seconds, 3), peak_memory_mb=round(sampler.peak_mb, 1) if sampler.peak_mb else None)
        emit(self.progress, ProgressEvent(stage=name, kind="stage_finished", values={"seconds": seconds}))
