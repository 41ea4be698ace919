"""Structured logs with structlog: JSON lines for journald, readable lines on a terminal.

Every line about a job carries ``job_id``, ``pair`` and ``stage``: a
:class:`JobLog` is bound to the job and follows its stage from the pipeline's
progress events (it is one of the worker's listeners).
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

from daemon.store import Job
from models.events import ProgressEvent
from pipeline.pair.process import ProcessOutcome

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure_logging(fmt: str = "auto", level: str = "info", stream: TextIO | None = None) -> None:
    """Set up structlog once per process (the CLI does this, never a library)."""
    stream = stream or sys.stderr
    json_lines = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer: Any = structlog.processors.JSONRenderer() if json_lines else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )


def get_logger(**context: Any) -> Any:
    return structlog.get_logger("scoutzoom").bind(**context)


class JobLogs:
    """Logs a job's lifecycle and pipeline events; a worker listener."""

    def __init__(self) -> None:
        self._stages: dict[int, str] = {}

    def logger(self, job: Job) -> Any:
        return get_logger(job_id=job.id, pair=str(job.pair), stage=self._stages.get(job.id, "-"))

    def job_started(self, job: Job) -> None:
        self._stages[job.id] = "-"
        self.logger(job).info("job started", attempt=job.attempts, out_dir=str(job.out_dir))

    def job_event(self, job: Job, event: ProgressEvent) -> None:
        if event.kind == "stage_started":
            self._stages[job.id] = event.stage
        log = self.logger(job).bind(stage=event.stage)
        if event.kind == "stage_started":
            log.info("stage started")
        elif event.kind == "stage_finished":
            log.info("stage finished", **event.values)
        elif event.kind == "message":
            log.info(event.message or "message", **event.values)
        elif event.kind == "metric":
            log.debug("metric", **event.values)
        # progress events are too frequent for the journal

    def job_finished(self, job: Job, outcome: str, detail: ProcessOutcome | None) -> None:
        log = self.logger(job)
        self._stages.pop(job.id, None)
        fields: dict[str, Any] = {"outcome": outcome}
        if detail is not None:
            fields.update(message=detail.message, failed_stage=detail.stage, voxels_recovered=detail.voxels_recovered)
        else:
            fields.update(message=job.message)
        (log.warning if outcome == "failed" else log.info)("job finished", **fields)

    def pair_failed(self, job: Job, reasons: list[str]) -> None:
        get_logger(job_id=job.id, pair=str(job.pair), stage="check").warning("pair failed", reasons=reasons)
