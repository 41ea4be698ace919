"""The ``dask`` executor: a processor that runs each job attempt on a Dask distributed cluster and waits for it.

The daemon's job thread calls it exactly like the local processor (same
arguments, same :class:`ProcessOutcome`, ``Cancelled`` when cancelled), so the
job store, metrics and logs stay in the daemon. Each attempt is one task with
its own key, submitted without Dask retries; a worker that dies mid-job
(``KilledWorker``, or Dask's re-run refused by :mod:`daemon.executor.task`)
raises :class:`WorkerLost`, and the daemon re-queues the job and counts the
attempt, as after its own crash. A job that needs a card asks for the
resource ``GPU=1``, so two such jobs never share a worker's card.
"""

from __future__ import annotations

import pickle
import re
import uuid
from concurrent.futures import CancelledError
from pathlib import Path
from typing import Any

from distributed import Client, Event, KilledWorker, Queue

from daemon.config import ExecutorSection
from daemon.executor.base import Processor, WorkerLost, wants_gpu
from daemon.executor.cluster import start_client
from daemon.executor.task import TaskNames, TaskResult, run_attempt
from daemon.logs import get_logger
from models.errors import Cancelled
from models.events import CancelToken, ProgressCallback
from pipeline.config import ProcessConfig
from pipeline.pair.process import ProcessOutcome
from pipeline.pair.sources import PairSources

POLL_S = 0.25  # progress, cancellation and the result are looked at this often


class RemoteJobError(RuntimeError):
    """The processor raised on a Dask worker; the message is the worker's ``Type: message``."""


def _job_key(pair: Path | PairSources) -> str:
    """A readable task-key prefix for a pair (its name), unique per pair path (a loose pair: its zoom's)."""
    path = pair.label if isinstance(pair, PairSources) else Path(pair)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.name)[:40]
    return f"scoutzoom-{name}-{uuid.uuid5(uuid.NAMESPACE_URL, str(path)).hex[:12]}"


class DaskProcessor:
    """Submits one attempt per call to a Dask cluster; safe to call from several job threads at once."""

    def __init__(self, client: Client, processor: Processor, executor: ExecutorSection, close: Any = None) -> None:
        self.client = client
        self.processor = processor
        self.executor = executor
        self._close = close

    @classmethod
    def connect(cls, executor: ExecutorSection, processor: Processor) -> DaskProcessor:
        client, close = start_client(executor)
        return cls(client, processor, executor, close)

    def close(self) -> None:
        """Disconnect (and stop a cluster the daemon started); running attempts are cancelled by the scheduler."""
        if self._close is not None:
            self._close()
        else:
            self.client.close()

    def __call__(
        self,
        pair_dir: Path | PairSources,
        out_dir: Path,
        config: ProcessConfig,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        force: bool = False,
    ) -> ProcessOutcome:
        job_key = _job_key(pair_dir)
        names = TaskNames.for_attempt(job_key, f"{job_key}-{uuid.uuid4().hex[:8]}")
        resources = {"GPU": 1} if wants_gpu(self.executor, config) else None
        try:
            Queue(names.token, client=self.client).put(1)
            future = self.client.submit(
                run_attempt,
                self.processor,
                pair_dir,
                out_dir,
                config,
                force,
                names,
                key=names.key,
                pure=False,
                retries=0,
                resources=resources,
            )
        except (OSError, TimeoutError, CancelledError) as error:  # scheduler gone: re-queued like a lost worker
            raise WorkerLost(f"cannot reach the Dask scheduler ({type(error).__name__}: {error})") from None
        try:
            result = self._wait(future, names, progress, cancel)
        finally:
            future.release()
            self._forget(names)
        return self._outcome(result)

    def _connected(self) -> bool:
        """Whether the client still talks to the scheduler (a closed client's queue calls block for seconds)."""
        return self.client.status == "running"

    def _forget(self, names: TaskNames) -> None:
        """Drop the attempt's queues from the scheduler (best effort: a lost scheduler forgets them anyway)."""
        if not self._connected():
            return
        for name in (names.token, names.progress):
            try:
                Queue(name, client=self.client).close()
            except Exception:  # noqa: BLE001
                pass

    def _wait(
        self, future: Any, names: TaskNames, progress: ProgressCallback | None, cancel: CancelToken | None
    ) -> TaskResult:
        events = Queue(names.progress, client=self.client)
        asked = False
        while True:
            try:
                result = future.result(timeout=POLL_S)
            except TimeoutError:
                result = None
            except KilledWorker as error:
                raise WorkerLost(f"the Dask worker died ({error})") from None
            except (CancelledError, OSError) as error:
                raise WorkerLost(f"the Dask cluster lost the job ({type(error).__name__}: {error})") from None
            if result is None and not self._connected():
                raise WorkerLost(f"the connection to the Dask scheduler closed (client {self.client.status})")
            self._relay(events, progress)
            if result is not None:
                return result
            if cancel is not None and cancel.cancelled and not asked:
                Event(names.cancel, client=self.client).set()
                asked = True

    @staticmethod
    def _relay(events: Any, progress: ProgressCallback | None) -> None:
        """Hand the worker's progress events to the daemon's listeners."""
        try:
            items = events.get(batch=True)
        except Exception:  # noqa: BLE001 - progress is best effort
            return
        for item in items:
            if progress is not None:
                progress(pickle.loads(item))

    @staticmethod
    def _outcome(result: TaskResult) -> ProcessOutcome:
        if result.status == "outcome" and result.outcome is not None:
            return result.outcome
        if result.status == "cancelled":
            raise Cancelled(result.message)
        if result.status == "rerun":
            raise WorkerLost(f"the Dask worker died; {result.message}")
        get_logger(worker=result.worker).error("processor raised on a Dask worker", trace=result.trace)
        raise RemoteJobError(f"{result.message} (on Dask worker {result.worker})")
