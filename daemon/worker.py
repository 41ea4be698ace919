"""Runs one job in a worker thread: calls the processor, records the outcome, tells the listeners.

The processor is ``pipeline.pair.process.process_pair`` unless the config names
another (``[advanced] processor = "module:function"``, used by tests). It never
raises on bad input (it writes ``FAILED.json`` and returns ``failed``) and raises
``Cancelled`` when the job's :class:`CancelToken` is set, after which the job is
re-queued. Any other exception -- a bug, a full disk -- fails the job with
``FAILED.json`` written here; the daemon never dies of a pair. When even that
cannot be written (output disk full), the job store keeps it and the daemon
writes it when space returns. A job whose output folder resolves outside the
output root (a symbolic link) fails without writing anything there. A job
whose executor lost its worker process (:class:`WorkerLost`, the ``dask``
executor) is re-queued with the attempt counted, as after a crash, and failed
after ``jobs.max_attempts`` such losses. A pair folder's job hands the processor
the folder; a loose pair's (``Job.scout`` set) a :class:`PairSources`.
"""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from daemon.executor.base import WorkerLost
from daemon.links import link_escape
from daemon.logs import get_logger
from daemon.store import Job, JobStore
from models.errors import Cancelled, ConfigError
from models.events import CancelToken, ProgressEvent, fanout
from pipeline.config import ProcessConfig
from pipeline.pair.process import ProcessOutcome
from pipeline.pair.report import FailureReport, write_failure
from pipeline.pair.sources import PairSources

Processor = Callable[..., ProcessOutcome]
_NOT_WRITTEN = "; output folder refused, nothing written there"


class JobListener(Protocol):
    """Subscribers to a job's life (metrics, logs)."""

    def job_started(self, job: Job) -> None: ...
    def job_event(self, job: Job, event: ProgressEvent) -> None: ...
    def job_finished(self, job: Job, outcome: str, detail: ProcessOutcome | None) -> None: ...
    def pair_failed(self, job: Job, reasons: list[str]) -> None: ...


def load_processor(spec: str) -> Processor:
    """The function named ``module:function``; a :class:`ConfigError` if it cannot be imported."""
    module_name, _, function_name = spec.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as error:
        raise ConfigError("advanced.processor", [f"cannot load {spec!r}: {error}"]) from error
    if not callable(function):
        raise ConfigError("advanced.processor", [f"{spec!r} is not callable"])
    return function


def write_failed(
    out_dir: Path,
    pair: Path,
    stage: str,
    message: str,
    problems: list[str] | None = None,
    *,
    allowed_root: Path | None = None,
) -> bool:
    """``FAILED.json`` in ``out_dir`` (atomically); best effort -- a full disk must not kill the daemon.

    False when it could not be written (the caller records it); never written through a link leaving ``allowed_root``.
    """
    if allowed_root is not None and link_escape(out_dir, allowed_root) is not None:
        return False
    report = FailureReport(pair=str(pair), stage=stage, message=message, problems=problems or [message])
    try:
        write_failure(out_dir, report)  # the pipeline's own writer and schema: one FAILED.json
    except OSError:
        return False
    return True


def failed_args(out_dir: Path, pair: Path, stage: str, message: str, problems: list[str] | None = None) -> str:
    """The arguments of a :func:`write_failed` call as JSON, kept in the store until it succeeds."""
    return json.dumps(
        {"out_dir": str(out_dir), "pair": str(pair), "stage": stage, "message": message, "problems": problems}
    )


def job_sources(job: Job) -> Path | PairSources:
    """What the processor is given: the pair folder, or a loose pair's scout and zoom."""
    return job.pair if job.scout is None else PairSources.from_paths(job.scout, job.pair)


class RunningJob:
    """A job in its worker thread, with the token that cancels it."""

    def __init__(self, job: Job, thread: threading.Thread, cancel: CancelToken) -> None:
        self.job = job
        self.thread = thread
        self.cancel = cancel

    @property
    def finished(self) -> bool:
        return not self.thread.is_alive()


class JobRunner:
    """Starts jobs in threads; each thread ends by setting ``wake`` so the main loop notices."""

    def __init__(
        self,
        store: JobStore,
        processor: Processor,
        listeners: list[Any],
        *,
        clock: Callable[[], float],
        wake: threading.Event,
        allowed_root: Callable[[Job], Path] | None = None,
        max_attempts: int = 3,
    ) -> None:
        self.store = store
        self.max_attempts = max_attempts  # jobs.max_attempts: lost workers a job survives
        self.processor = processor
        self.listeners = listeners
        self.clock = clock
        self.wake = wake
        self.allowed_root = allowed_root  # the folder a job's outputs must stay in (output root, or the pair)

    def _tell(self, method: str, *args: Any) -> None:
        for listener in self.listeners:
            try:
                getattr(listener, method)(*args)
            except Exception:  # a listener's bug must not fail the job
                get_logger(listener=type(listener).__name__).exception("listener failed")

    def start(self, job: Job, config: ProcessConfig) -> RunningJob:
        cancel = CancelToken()
        thread = threading.Thread(target=self.run, args=(job, config, cancel), name=f"job-{job.id}", daemon=True)
        running = RunningJob(job, thread, cancel)
        thread.start()
        return running

    def run(self, job: Job, config: ProcessConfig, cancel: CancelToken) -> None:
        """The whole life of one job (in its thread; tests call it directly)."""
        try:
            self._run(job, config, cancel)
        finally:
            self.wake.set()

    def _record_stage(self, job: Job) -> Callable[[ProgressEvent], None]:
        def record(event: ProgressEvent) -> None:
            if event.kind == "stage_started":
                self.store.set_stage(job.id, event.stage, self.clock())
            self._tell("job_event", job, event)

        return record

    def _fail_job(self, job: Job, stage: str, message: str) -> None:
        """Fail ``job`` before or instead of processing (FAILED.json where that is safe)."""
        root = self.allowed_root(job) if self.allowed_root is not None else None
        if not write_failed(job.out_dir, job.pair, stage, message, allowed_root=root):
            self.store.record_unwritten(
                job.pair, job.out_dir, failed_args(job.out_dir, job.pair, stage, message), self.clock()
            )
        self.store.finish(job.id, "failed", message, self.clock())

    def _lost(self, job: Job, why: str) -> None:
        """The worker died mid-job: re-queue it (attempt counted), or fail it when interrupted too often."""
        now = self.clock()
        after = self.store.interrupted(job.id, self.max_attempts, why, now)
        log = get_logger(job_id=job.id, pair=str(job.pair), stage=(after or job).stage or "-")
        if after is not None and after.state == "failed":
            log.error("job failed: interrupted too often", reason=why)
            self._fail_job(after, after.stage or "unknown", after.message)
            self._tell("job_finished", after, "failed", None)
            return
        log.warning("worker lost; job re-queued", reason=why)
        self._tell("job_finished", job.model_copy(update={"message": why}), "requeued", None)

    def _run(self, job: Job, config: ProcessConfig, cancel: CancelToken) -> None:
        self._tell("job_started", job)
        root = self.allowed_root(job) if self.allowed_root is not None else None
        problem = link_escape(job.out_dir, root, hint=_NOT_WRITTEN) if root is not None else None
        if problem is not None:
            self.store.finish(job.id, "failed", problem, self.clock())
            get_logger(job_id=job.id, pair=str(job.pair), stage="check").error("output folder refused", reason=problem)
            self._tell("job_finished", job.model_copy(update={"message": problem, "stage": "check"}), "failed", None)
            return
        progress = fanout(self._record_stage(job))
        try:
            detail = self.processor(
                job_sources(job), job.out_dir, config, progress=progress, cancel=cancel, force=job.force
            )
        except Cancelled as error:
            self.store.requeue(job.id, f"interrupted: {error}", self.clock())
            self._tell("job_finished", job.model_copy(update={"message": str(error)}), "requeued", None)
            return
        except WorkerLost as error:
            self._lost(job, str(error))
            return
        except Exception as error:  # noqa: BLE001 - a pipeline bug or full disk must not stop the daemon
            stage = (self.store.get_id(job.id) or job).stage or "unknown"
            message = f"{type(error).__name__}: {error}"
            self._fail_job(job, stage, message)
            get_logger(job_id=job.id, pair=str(job.pair), stage=stage).exception("processor raised")
            self._tell("job_finished", job.model_copy(update={"message": message, "stage": stage}), "failed", None)
            return
        state = "failed" if detail.status == "failed" else "done"
        self.store.finish(job.id, state, detail.message or detail.status, self.clock())
        self._tell("job_finished", job, detail.status, detail)
