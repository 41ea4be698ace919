"""Prometheus metrics: a subscriber to job lifecycle and pipeline progress events.

Nothing else in the code base touches a metric; the worker hands every job's
start, events and end to its listeners, and this is one of them. Metrics live
in their own :class:`CollectorRegistry` (no process globals), served over HTTP
on a loopback address unless configured otherwise. The ``*_created`` series
are off (prometheus_client's switch is process-wide; nothing else here exports
metrics): they double the series and no dashboard or alert reads them.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
    start_http_server,
)

from daemon.store import Job
from models.events import Assessed, CacheDecided, ProgressEvent, StageFinished, TrainingProgress
from pipeline.pair.process import ProcessOutcome

JOB_OUTCOMES = ("done", "failed", "skipped", "requeued")
CACHE_RESULTS = ("hit", "miss", "rejected")
LOOSE_REPORTS = ("ambiguous", "broken")  # loose scan groups never processed: pairing unclear, file unreadable
# stages take from a second (checks) to hours (training on CPU)
STAGE_BUCKETS_S = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)


def build_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("scoutzoom")
    except PackageNotFoundError:
        return "unknown"


class Metrics:
    """The daemon's metrics; implements the worker's ``JobListener`` protocol."""

    def __init__(self, registry: CollectorRegistry | None = None, *, clock: Any = time.time) -> None:
        disable_created_metrics()  # before anything is exported (the env var PROMETHEUS_DISABLE_CREATED_SERIES too)
        self.registry = registry or CollectorRegistry()
        self.clock = clock
        r = self.registry
        self.jobs = Counter("scoutzoom_jobs", "Jobs ended, by outcome", ["outcome"], registry=r)
        self.stage_seconds = Histogram(
            "scoutzoom_stage_seconds", "Duration of pipeline stages", ["stage"], buckets=STAGE_BUCKETS_S, registry=r
        )
        self.queue_depth = Gauge("scoutzoom_queue_depth", "Jobs queued and not yet running", registry=r)
        self.in_progress = Gauge("scoutzoom_jobs_in_progress", "Jobs running now", registry=r)
        self.pairs_waiting = Gauge(
            "scoutzoom_pairs_waiting", "Watched pairs not ready yet, stalled or not", ["stalled"], registry=r
        )
        self.model_cache = Counter("scoutzoom_model_cache", "Model cache look-ups, by result", ["result"], registry=r)
        self.voxels = Counter("scoutzoom_voxels_recovered", "Voxels of recovered volume written", registry=r)
        self.training_loss = Gauge("scoutzoom_training_loss", "Latest training loss of the current job", registry=r)
        self.last_success = Gauge(
            "scoutzoom_last_success_timestamp_seconds",
            "When a job last ended done (Unix time; from the job store at start, 0 if none ever did)",
            registry=r,
        )
        self.flagged = Counter(
            "scoutzoom_recovered_flagged",
            "Recovered volumes flagged by the trust report (figures below thresholds)",
            registry=r,
        )
        self.psnr_gain = Gauge(
            "scoutzoom_heldout_psnr_gain_db",
            "Held-out PSNR gain over cubic upsampling of the last assessed job (dB)",
            registry=r,
        )
        self.loose_reported = Counter(
            "scoutzoom_loose_groups_reported",
            "Loose scan groups reported and not processed, by kind (ambiguous pairing, broken file); once per reason",
            ["kind"],
            registry=r,
        )
        self.build = Info("scoutzoom_build", "Version of the running code", registry=r)
        ProcessCollector(
            registry=r
        )  # process_resident_memory_bytes, process_cpu_seconds_total (the dashboard's panels)
        self.build.info({"version": build_version()})
        for outcome in JOB_OUTCOMES:
            self.jobs.labels(outcome)
        for result in CACHE_RESULTS:
            self.model_cache.labels(result)
        for kind in LOOSE_REPORTS:
            self.loose_reported.labels(kind)
        for stalled in ("false", "true"):
            self.pairs_waiting.labels(stalled)

    # -- JobListener ---------------------------------------------------------------
    def job_started(self, job: Job) -> None:
        self.in_progress.inc()

    def job_event(self, job: Job, event: ProgressEvent) -> None:
        if isinstance(event, StageFinished):
            self.stage_seconds.labels(event.stage).observe(max(0.0, event.seconds))
        elif isinstance(event, CacheDecided):
            self.model_cache.labels(event.result).inc()
        elif isinstance(event, Assessed):
            if event.flagged:
                self.flagged.inc()
            if event.psnr_gain_db is not None:
                self.psnr_gain.set(event.psnr_gain_db)
        elif isinstance(event, TrainingProgress):
            self.training_loss.set(event.loss)

    def job_finished(self, job: Job, outcome: str, detail: ProcessOutcome | None) -> None:
        self.in_progress.dec()
        self._count(outcome, detail)

    def pair_failed(self, job: Job, reasons: list[str]) -> None:
        """A pair failed before it became a running job (READY but incomplete)."""
        self._count("failed", None)

    def _count(self, outcome: str, detail: ProcessOutcome | None) -> None:
        self.jobs.labels(outcome if outcome in JOB_OUTCOMES else "failed").inc()
        if detail is not None and detail.voxels_recovered > 0:
            self.voxels.inc(detail.voxels_recovered)
        if outcome == "done":
            self.last_success.set(self.clock())

    def seed_last_success(self, timestamp_s: float | None) -> None:
        """At start: the job store's last done job (Unix s), so a restart does not look like a day without success."""
        if timestamp_s is not None:
            self.last_success.set(timestamp_s)

    def loose_group_reported(self, kind: str) -> None:
        """A loose scan group newly reported (``ambiguous`` or ``broken``), not processed."""
        self.loose_reported.labels(kind if kind in LOOSE_REPORTS else "ambiguous").inc()

    # -- state the main loop reads from the store ---------------------------------------
    def set_queue(self, queued: int, waiting: int, stalled: int) -> None:
        self.queue_depth.set(queued)
        self.pairs_waiting.labels("false").set(waiting)
        self.pairs_waiting.labels("true").set(stalled)

    def exposition(self) -> bytes:
        """The text format, as the HTTP endpoint serves it."""
        return generate_latest(self.registry)

    def serve(self, address: str, port: int) -> Any:
        """Start the HTTP endpoint in a daemon thread; returns the server (``shutdown()`` stops it)."""
        server, _thread = start_http_server(port, addr=address, registry=self.registry)
        return server
