"""What runs inside a Dask worker for one job attempt: the processor, guarded so that no job runs twice at once.

Three guards, all on the scheduler (no shared filesystem needed):

- a **token**: the daemon puts one item in a queue named after the attempt;
  the task takes it first. Dask re-runs a task whose worker died
  (``distributed.scheduler.allowed-failures``); that second run finds no token
  and refuses, so the daemon, not Dask, decides about retries and counts the
  attempt.
- a **lease** on the job (a ``distributed.Lock``, whose lease lapses
  ``distributed.scheduler.locks.lease-timeout`` after its worker dies): a new
  attempt waits while an earlier one is still running somewhere (an orphan of
  a daemon restart).
- a **watcher** thread turns the daemon's cancel event, or the scheduler
  forgetting this task (its client gone), into the job's :class:`CancelToken`.

Progress events go back through a queue (pickled; stage events always, others at
most every ``PROGRESS_EVERY_S``). The result is a :class:`TaskResult`, never an
exception, so a pipeline error whose class does not pickle still reaches the
daemon as a message.
"""

from __future__ import annotations

import pickle
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from models.errors import Cancelled
from models.events import CancelToken, ProgressCallback, ProgressEvent
from pipeline.config import ProcessConfig
from pipeline.pair.process import ProcessOutcome

PROGRESS_EVERY_S = 0.5  # step/training events are sent at most this often (each is a scheduler round trip)
WATCH_EVERY_S = 0.25  # the watcher looks at the cancel event and the task's state this often
TOKEN_WAIT_S = 2.0  # the token is put before the task is submitted, so this only covers a slow scheduler round trip
ALWAYS_SENT = ("stage_started", "stage_finished", "cache_decided", "assessed", "message")


@dataclass(frozen=True)
class TaskNames:
    """Scheduler-side names of one attempt's token, progress queue and cancel event, and of its job's lease."""

    key: str
    token: str
    progress: str
    cancel: str
    lease: str

    @classmethod
    def for_attempt(cls, job_key: str, attempt_key: str) -> TaskNames:
        return cls(
            key=attempt_key,
            token=f"{attempt_key}-token",
            progress=f"{attempt_key}-progress",
            cancel=f"{attempt_key}-cancel",
            lease=f"{job_key}-lease",
        )


@dataclass(frozen=True)
class TaskResult:
    """How an attempt ended on its worker."""

    status: Literal["outcome", "cancelled", "error", "rerun"]
    outcome: ProcessOutcome | None = None
    message: str = ""
    worker: str = ""
    trace: str = ""  # the worker's traceback of an error, for the daemon's log


def _relay(queue: Any) -> ProgressCallback:
    """A progress callback that sends events to the daemon, rate-limiting the frequent ones."""
    last_s = [0.0]

    def send(event: ProgressEvent) -> None:
        now = time.monotonic()
        if event.kind not in ALWAYS_SENT and now - last_s[0] < PROGRESS_EVERY_S:
            return
        last_s[0] = now
        try:
            queue.put(pickle.dumps(event))
        except Exception:  # noqa: BLE001 - progress is best effort; the job goes on
            pass

    return send


def _watch(names: TaskNames, worker: Any, event: Any, cancel: CancelToken, done: threading.Event) -> None:
    """Set ``cancel`` when the daemon asks or when the scheduler no longer wants this task (``worker``'s state)."""
    while not done.wait(WATCH_EVERY_S):
        task = worker.state.tasks.get(names.key)
        orphaned = task is None or task.state in ("cancelled", "released", "forgotten")
        try:
            asked = event.is_set()
        except Exception:  # noqa: BLE001 - scheduler briefly unreachable: ask again next time
            asked = False
        if asked or orphaned:
            cancel.cancel()
            return


def run_attempt(
    processor: Any, pair_dir: Path, out_dir: Path, config: ProcessConfig, force: bool, names: TaskNames
) -> TaskResult:
    """One attempt of one job, on a Dask worker (this is the function the daemon submits)."""
    from distributed import Event, Lock, Queue, get_worker

    here = get_worker()  # in the task's thread: the watcher thread cannot look it up itself
    worker = here.address
    try:
        Queue(names.token).get(timeout=TOKEN_WAIT_S)
    except TimeoutError:
        return TaskResult("rerun", message="started again after its worker died; refused", worker=worker)
    cancel, done = CancelToken(), threading.Event()
    watcher = threading.Thread(target=_watch, args=(names, here, Event(names.cancel), cancel, done), daemon=True)
    watcher.start()
    lease = Lock(names.lease)
    try:
        while not lease.acquire(timeout=1.0):
            if cancel.cancelled:
                return TaskResult("cancelled", message="cancelled while an earlier attempt held the job", worker=worker)
        try:
            relay = _relay(Queue(names.progress))
            outcome = processor(pair_dir, out_dir, config, progress=relay, cancel=cancel, force=force)
        finally:
            try:
                lease.release()
            except Exception:  # noqa: BLE001 - scheduler unreachable: the lease lapses by itself
                pass
    except Cancelled as error:
        return TaskResult("cancelled", message=str(error), worker=worker)
    except Exception as error:  # noqa: BLE001 - reported to the daemon, which fails the job as it does locally
        message = f"{type(error).__name__}: {error}"
        return TaskResult("error", message=message, worker=worker, trace=traceback.format_exc())
    finally:
        done.set()
        watcher.join()
    return TaskResult("outcome", outcome=outcome, worker=worker)
