"""Structured logs with structlog: JSON lines for journald, readable lines on a terminal.

Every line about a job carries ``job_id``, ``pair`` and ``stage``: a
:class:`JobLogs` is bound to the job and follows its stage from the pipeline's
typed progress events (it is one of the worker's listeners). Step progress
(slabs, training iterations) is logged at most once per ``progress_interval_s``
per job, so an hour of training shows in the journal without flooding it.
Under systemd, when the log stream is the journal (``$JOURNAL_STREAM`` names
its device and inode), each line starts with the sd-daemon priority prefix
(``<3>`` error ... ``<7>`` debug), so ``journalctl -p err`` finds the errors.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import structlog

from daemon.store import Job
from models.events import Assessed, CacheDecided, Message, ProgressEvent, StageFinished, StageStarted, StepProgress
from pipeline.pair.process import ProcessOutcome

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
# sd-daemon(3) priorities by structlog level name; a line prefixed "<N>" is stored by journald at priority N
JOURNAL_PRIORITIES = {"critical": 2, "exception": 3, "error": 3, "warning": 4, "warn": 4, "info": 6, "debug": 7}


def writes_to_journal(stream: TextIO, environ: dict[str, str] | None = None) -> bool:
    """``stream`` is journald's stream: ``$JOURNAL_STREAM`` (``device:inode``) names the file it writes to.

    The variable is inherited by child processes whose output goes elsewhere, so it is compared with the stream.
    """
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    try:
        status = os.fstat(stream.fileno())
        return (int(device), int(inode)) == (status.st_dev, status.st_ino)
    except (AttributeError, OSError, ValueError):  # no file behind the stream, or no/garbled variable
        return False


class JournalPriority:
    """Wraps a renderer: each rendered line gets the sd-daemon prefix of its level (``<3>`` for errors)."""

    def __init__(self, renderer: Any) -> None:
        self.renderer = renderer

    def __call__(self, logger: Any, method_name: str, event_dict: Any) -> str:
        level = str(event_dict.get("level", method_name)).lower()
        return f"<{JOURNAL_PRIORITIES.get(level, 6)}>{self.renderer(logger, method_name, event_dict)}"


def configure_logging(fmt: str = "auto", level: str = "info", stream: TextIO | None = None) -> None:
    """Set up structlog once per process (the CLI does this, never a library); priority prefixes for journald."""
    stream = stream or sys.stderr
    json_lines = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer() if json_lines else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    if writes_to_journal(stream):
        renderer = JournalPriority(renderer)
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

    def __init__(self, progress_interval_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._stages: dict[int, str] = {}
        self._last_progress: dict[int, float] = {}
        self.progress_interval_s = progress_interval_s
        self.clock = clock

    def logger(self, job: Job) -> Any:
        return get_logger(job_id=job.id, pair=str(job.pair), stage=self._stages.get(job.id, "-"))

    def job_started(self, job: Job) -> None:
        self._stages[job.id] = "-"
        self.logger(job).info("job started", attempt=job.attempts, out_dir=str(job.out_dir))

    def job_event(self, job: Job, event: ProgressEvent) -> None:
        if isinstance(event, StageStarted):
            self._stages[job.id] = event.stage
        log = self.logger(job).bind(stage=event.stage)
        if isinstance(event, StageStarted):
            log.info("stage started")
        elif isinstance(event, StageFinished):
            log.info("stage finished", seconds=round(event.seconds, 3), peak_memory_mb=event.peak_memory_mb)
        elif isinstance(event, Message):
            log.info(event.message or "message")
        elif isinstance(event, CacheDecided):
            log.info("model cache", result=event.result, model_id=event.model_id, reason=event.reason)
        elif isinstance(event, Assessed):
            (log.warning if event.flagged else log.info)(
                "assessed",
                flagged=event.flagged,
                reasons=list(event.reasons),
                psnr_gain_db=event.psnr_gain_db,
                feature_recall=event.feature_recall,
            )
        elif isinstance(event, StepProgress):
            self._log_progress(job, log, event)

    def _log_progress(self, job: Job, log: Any, event: StepProgress) -> None:
        """At most one progress line per job and ``progress_interval_s`` (and always the last step)."""
        now = self.clock()
        last = self._last_progress.get(job.id)
        if last is not None and now - last < self.progress_interval_s and event.done < event.total:
            return
        self._last_progress[job.id] = now
        share = event.done / event.total if event.total else None
        log.info(
            "progress",
            step=event.step or event.stage,
            done=event.done,
            total=event.total,
            fraction=round(share, 4) if share is not None else None,
            **event.values,
        )

    def job_finished(self, job: Job, outcome: str, detail: ProcessOutcome | None) -> None:
        log = self.logger(job)
        self._stages.pop(job.id, None)
        self._last_progress.pop(job.id, None)
        fields: dict[str, Any] = {"outcome": outcome}
        if detail is not None:
            fields.update(message=detail.message, failed_stage=detail.stage, voxels_recovered=detail.voxels_recovered)
        else:
            fields.update(message=job.message)
        (log.warning if outcome == "failed" else log.info)("job finished", **fields)

    def pair_failed(self, job: Job, reasons: list[str]) -> None:
        get_logger(job_id=job.id, pair=str(job.pair), stage="check").warning("pair failed", reasons=reasons)
