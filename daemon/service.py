"""The daemon: watch roots -> ready pairs -> job store -> worker threads, one loop iteration at a time.

:meth:`Daemon.tick` is one iteration of the main loop with the time passed in,
so tests step through it; :meth:`Daemon.run` calls it until stopped. Signal
handlers (installed by ``scoutzoom watch``) only call :meth:`request_stop` /
:meth:`request_reload`, which set flags the loop reads. Graceful stop, in
order: stop intake, cancel the running jobs (the pipeline raises ``Cancelled``
at its next check and the job is re-queued), wait up to ``stop_timeout_s``,
close the store.

One daemon per state folder: the folder's lock (:mod:`daemon.lock`) is taken
before the job store is opened, so a second instance re-queues nothing and
binds no port. Intake failures are per pair: a pair whose check raises, or
whose store write fails (full disk), stays tracked and is tried again; a
``FAILED.json`` that cannot be written is kept in the store and written when
space returns. With ``watch.loose_files``, loose scans are paired by metadata
(:mod:`daemon.loose`) and become jobs keyed by the zoom; groups that cannot be
paired are logged once per reason, counted and kept in the store for
``scoutzoom status``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from daemon import sdnotify
from daemon.config import DaemonConfig
from daemon.config_checks import service_problems
from daemon.executor.base import make_processor
from daemon.lock import StateLock
from daemon.logs import JobLogs, configure_logging, get_logger
from daemon.loose import LooseIntake, LooseScan, ReadyPair, output_name
from daemon.metrics import Metrics
from daemon.readiness import PairTracker, Verdict
from daemon.status_notify import StatusNotifier
from daemon.store import Job, JobStore
from daemon.watcher import Watcher, pairs_for_change, scan_roots
from daemon.web.wiring import attach as attach_status_page
from daemon.worker import JobRunner, Processor, RunningJob, failed_args, load_processor, write_failed
from models.errors import ConfigError
from pipeline.acquisition.completeness import is_pair_dir
from pipeline.acquisition.reader import default_memory_budget_bytes

MAX_WAIT_S = 0.25  # signal flags are noticed at least this often
BUSY_RECHECK_S = 30.0  # a pair that changed while its job runs is looked at again after this
STORE_RETRY_S = 5.0  # a ready pair whose store write failed (disk full, locked) is offered again after this
UNWRITTEN_RETRY_POLLS = 6  # FAILED.json files that could not be written are tried again every 6 poll intervals


def memory_budget_bytes(config: DaemonConfig) -> int:
    """``jobs.memory_budget_mb`` in bytes, or half the machine's memory."""
    if config.jobs.memory_budget_mb is not None:
        return config.jobs.memory_budget_mb << 20
    return default_memory_budget_bytes()


class Daemon:
    """One ``scoutzoom watch`` process."""

    def __init__(
        self,
        config: DaemonConfig,
        *,
        reload: Callable[[], DaemonConfig] | None = None,
        processor: Processor | None = None,
        clock: Callable[[], float] = time.time,
        serve_metrics: bool = True,
        lock: StateLock | None = None,
    ) -> None:
        self.config = config
        self._reload_config = reload
        self.clock = clock
        self.serve_metrics = serve_metrics
        self.wake = threading.Event()
        self.log = get_logger()
        self.lock = lock or StateLock(config.state_dir)
        if not self.lock.held:
            self.lock.acquire()  # before anything touches the store: a second instance must change nothing
        try:
            self.store = JobStore(config.store_path)
        except BaseException:
            self.lock.release()
            raise
        self.metrics = Metrics(clock=clock)
        self.logs = JobLogs()
        self.status_notify = StatusNotifier()
        try:  # local: the processor itself; dask: it, run on the cluster ([executor])
            self.execution = make_processor(config.executor, processor or load_processor(config.advanced.processor))
        except BaseException:
            self.store.close()
            self.lock.release()
            raise
        self.runner = JobRunner(
            self.store,
            self.execution.processor,
            [self.metrics, self.logs, self.status_notify],
            clock=clock,
            wake=self.wake,
            allowed_root=self.allowed_root,
            max_attempts=config.jobs.max_attempts,
        )
        self.tracker = self._make_tracker()
        self.loose = self._make_loose()
        self._loose_waiting: dict[Path, str] = {}  # loose scans in the pending table, and why
        self._loose_reported: dict[str, str] = {}  # loose groups reported (logged and counted once per reason)
        self.watcher: Watcher | None = None
        self.running: dict[int, RunningJob] = {}
        self._server: Any = None
        self._stop_flag = False
        self._abort_flag = False
        self._reload_flag = False
        self._stop_deadline_s: float | None = None
        self._reported: dict[Path, tuple[str, str]] = {}
        self._refused: set[Path] = set()  # linked pairs refused (logged once)
        self._next_unwritten_s = 0.0
        self._watchdog_s = sdnotify.watchdog_interval_s()
        self._last_ping_s = 0.0
        self.exit_code = 0

    # -- paths -----------------------------------------------------------------
    def ignore(self, path: Path) -> bool:
        """Our own outputs: anything under the output root, or ``<pair>/recovered/`` when writing inside pairs."""
        output_root = self.config.output_root
        if path == output_root or output_root in path.parents:
            return True
        if self.config.pipeline.output.inside_pair:
            return any(
                (p.name == "recovered" and is_pair_dir(p.parent)) or p.name.endswith(".recovered")
                for p in [path, *path.parents]
            )
        return False

    def out_dir_for(self, pair: Path, root: Path) -> Path:
        if self.config.pipeline.output.inside_pair:
            return pair / "recovered"
        return self.config.output_root / pair.relative_to(root)

    def loose_out_dir(self, zoom: Path, root: Path) -> Path:
        """A loose pair's outputs, named after its zoom: ``<output root>/<zoom's folder below root>/<zoom name>``
        (as a pair folder's), or ``<zoom name>.recovered`` beside the zoom when writing inside pairs."""
        name = output_name(zoom)
        if self.config.pipeline.output.inside_pair:
            return zoom.parent / f"{name}.recovered"
        try:
            return self.config.output_root / zoom.parent.relative_to(root) / name
        except ValueError:  # reached through a followed link (watch.follow_links)
            return self.config.output_root / name

    def allowed_root(self, job: Job) -> Path:
        """The folder a job's outputs must resolve into: the output root, or the pair itself (a loose pair: the
        zoom's folder)."""
        if not self.config.pipeline.output.inside_pair:
            return self.config.output_root
        return job.pair.parent if job.scout is not None else job.pair

    def _allowed_for(self, pair: Path) -> Path:
        if not self.config.pipeline.output.inside_pair:
            return self.config.output_root
        return pair if is_pair_dir(pair) else pair.parent

    def _make_tracker(self) -> PairTracker:
        watch = self.config.watch
        return PairTracker(
            watch.settle_s,
            watch.stalled_after_s,
            watch.poll_interval_s,
            ignore=self.ignore,
            follow_links=watch.follow_links,
            budget_s=watch.check_budget_s,
            memory_budget_bytes=memory_budget_bytes(self.config),
        )

    def _make_loose(self) -> LooseIntake:
        watch = self.config.watch
        return LooseIntake(
            watch.settle_s,
            watch.poll_interval_s,
            ignore=self.ignore,
            group_by=watch.loose_group_by,
            follow_links=watch.follow_links,
        )

    def _refuse(self, pair: Path, why: str) -> None:
        """A pair reached through a link the policy does not follow: logged once, not processed."""
        if pair not in self._refused:
            self._refused.add(pair)
            self.log.warning("pair ignored", pair=str(pair), stage="check", reason=why)

    def _write_failed(
        self, out_dir: Path, pair: Path, stage: str, message: str, problems: list[str] | None, now: float
    ) -> None:
        """FAILED.json, or a record in the store to write it later (output disk full, or a link refused)."""
        if not write_failed(out_dir, pair, stage, message, problems, allowed_root=self._allowed_for(pair)):
            self.log.error(
                "FAILED.json not written; kept in the job store", pair=str(pair), stage=stage, out_dir=str(out_dir)
            )
            self.store.record_unwritten(pair, out_dir, failed_args(out_dir, pair, stage, message, problems), now)

    # -- signals (flags only) ------------------------------------------------------
    def request_stop(self) -> None:
        if self._stop_flag:
            self._abort_flag = True
        self._stop_flag = True

    def request_reload(self) -> None:
        self._reload_flag = True

    @property
    def stopping(self) -> bool:
        return self._stop_deadline_s is not None

    # -- life cycle ------------------------------------------------------------------
    def start(self) -> None:
        now = self.clock()
        requeued, failed = self.store.recover(self.config.jobs.max_attempts, now)
        self.metrics.seed_last_success(self.store.last_done_s())
        for job in requeued:
            self.log.warning("interrupted job re-queued", job_id=job.id, pair=str(job.pair), stage=job.stage or "-")
        for job in failed:
            self.log.error(
                "job failed: interrupted too often", job_id=job.id, pair=str(job.pair), stage=job.stage or "-"
            )
            self._write_failed(job.out_dir, job.pair, job.stage or "unknown", job.message, None, now)
            self.metrics.pair_failed(job, [job.message])
        if self.serve_metrics and self.config.metrics.enabled:
            self._server = attach_status_page(self)  # /metrics, /status, /status.json on one read-only listener
        self._start_intake(now)
        sdnotify.notify("READY=1\nSTATUS=watching " + ", ".join(str(r) for r in self.config.watch.roots))
        self.log.info(
            "daemon started",
            roots=[str(r) for r in self.config.watch.roots],
            output=str(self.config.output_root),
            store=str(self.config.store_path),
            requeued=len(requeued),
        )

    def _start_intake(self, now: float) -> None:
        self.watcher = Watcher(
            self.config.watch.roots,
            self.config.watch.observer,
            self.config.watch.poll_interval_s,
            ignore=self.ignore,
            wake=self.wake,
        )
        for root in self.watcher.start():
            self.log.error("watch root cannot be watched", root=str(root))
        for root, pair in scan_roots(
            self.config.watch.roots, self.ignore, follow_links=self.config.watch.follow_links, refused=self._refuse
        ):
            self.tracker.touch(pair, root, now, changed=False)
        if self.config.watch.loose_files:
            self.loose.due_at(now)
        else:
            self.loose.stop()
            self._forget_loose()

    def _forget_loose(self) -> None:
        """``loose_files`` off: what it reported leaves the store (status shows nothing stale)."""
        for path in self._loose_waiting:
            self.store.clear_pending(path)
        self._loose_waiting.clear()
        self._loose_reported.clear()
        if self.store.unpaired():
            self.store.replace_unpaired([], self.clock())

    def _stop_intake(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None

    def run(self) -> int:
        """Start, loop until stopped, shut down; the process exit code."""
        self.start()
        try:
            while True:
                self.wake.clear()
                now = self.clock()
                if not self.tick(now):
                    break
                self.wake.wait(self._wait_s(now))
        finally:
            self.shutdown()
        return self.exit_code

    def shutdown(self) -> None:
        self._stop_intake()
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        try:
            self.execution.close()
        except Exception:  # noqa: BLE001 - a cluster that is already gone must not keep the store open
            self.log.exception("closing the executor failed")
        self.store.close()
        self.lock.release()
        self.log.info("daemon stopped", exit_code=self.exit_code)

    def _wait_s(self, now: float) -> float:
        waits = [MAX_WAIT_S]
        for next_check in (self.tracker.next_check_s(), self.loose.next_check_s()):
            if next_check is not None:
                waits.append(next_check - now)
        return max(0.01, min(waits))

    # -- one iteration -------------------------------------------------------------------
    def tick(self, now: float) -> bool:
        """One pass of the main loop; False when the daemon should exit."""
        if self._reload_flag:
            self._reload_flag = False
            self.reload(now)
        if self._stop_flag and not self.stopping:
            self._begin_stop(now)
        self._reap()
        if not self.stopping:
            try:
                self._intake(now)
            except Exception:  # noqa: BLE001 - e.g. a folder we may not read; logged, retried next tick
                self.log.exception("intake failed")
            try:
                self._dispatch(now)
                self._flush_unwritten(now)
            except Exception:  # noqa: BLE001 - the store on a full disk: retried next tick
                self.log.exception("dispatch failed")
        try:
            self._publish(now)
        except Exception:  # noqa: BLE001
            self.log.exception("publishing metrics failed")
        if self.stopping:
            return self._continue_stopping(now)
        return True

    def _intake(self, now: float) -> None:
        if self.watcher is not None:
            for change in self.watcher.drain():
                try:
                    pairs = pairs_for_change(
                        change, self.ignore, follow_links=self.config.watch.follow_links, refused=self._refuse
                    )
                except Exception:  # noqa: BLE001 - one odd path, not the whole batch
                    self.log.exception("change not understood", path=str(change.path))
                    continue
                for pair in pairs:
                    self.tracker.touch(pair, change.root, now)
                if not pairs and self.config.watch.loose_files:
                    self.loose.touch(now)  # outside any pair folder: perhaps a loose scan
        for verdict in self.tracker.evaluate(now):
            try:
                self._handle(verdict, now)
            except Exception as error:  # noqa: BLE001 - the store on a full disk: keep the pair, try again
                self.log.error(
                    "pair not recorded; will retry",
                    pair=str(verdict.pair),
                    stage="check",
                    verdict=verdict.kind,
                    error=f"{type(error).__name__}: {error}",
                )
                if verdict.kind in ("ready", "failed"):
                    self.tracker.touch(verdict.pair, verdict.root, now, changed=False, check_at_s=now + STORE_RETRY_S)
        if self.config.watch.loose_files:
            scan = self.loose.scan(self.config.watch.roots, now)
            if scan is not None:
                self._loose_intake(scan, now)

    # -- loose scans ---------------------------------------------------------------------
    def _loose_intake(self, scan: LooseScan, now: float) -> None:
        """Offer the ready loose pairs; record what waits and what is reported (logged once per reason)."""
        for ready in scan.ready:
            try:
                self._offer_loose(ready, now)
            except Exception as error:  # noqa: BLE001 - the store on a full disk: offered again later
                self.log.error(
                    "pair not recorded; will retry",
                    pair=str(ready.pair.zoom),
                    stage="check",
                    error=f"{type(error).__name__}: {error}",
                )
                self.loose.due_at(now + STORE_RETRY_S)
        for path in set(self._loose_waiting) - set(scan.waiting):
            self.store.clear_pending(path)
            del self._loose_waiting[path]
        for path, reason in scan.waiting.items():
            if self._loose_waiting.get(path) != reason:
                self._loose_waiting[path] = reason
                self.store.set_pending(path, reason, False, now)
                self.log.debug("loose scan waiting", pair=str(path), stage="check", reason=reason)
        for group in scan.reported:
            if self._loose_reported.get(group.key) != group.reason:
                self._loose_reported[group.key] = group.reason
                kind = "broken" if group.broken else "ambiguous"
                self.log.warning(
                    "loose scans not paired; not processed",
                    pair=group.key,
                    stage="check",
                    kind=kind,
                    paths=[str(p) for p in group.paths],
                    reason=group.reason,
                )
                self.metrics.loose_group_reported(kind)
        for key in set(self._loose_reported) - {group.key for group in scan.reported}:
            del self._loose_reported[key]
        self.store.replace_unpaired([(g.key, g.paths, g.reason, g.broken) for g in scan.reported], now)

    def _offer_loose(self, ready: ReadyPair, now: float) -> None:
        pair = ready.pair
        out_dir = self.loose_out_dir(pair.zoom, ready.root)
        result, job = self.store.offer(pair.zoom, ready.root, out_dir, ready.fingerprint, now, scout=pair.scout)
        log = self.log.bind(pair=str(pair.zoom), stage="check")
        if result == "busy":
            self.loose.due_at(now + BUSY_RECHECK_S)
            return
        self.loose.offered(ready)
        if result == "queued" and job is not None:
            log.info("loose pair queued", job_id=job.id, scout=str(pair.scout), force=job.force)

    def _flush_unwritten(self, now: float) -> None:
        """Write the FAILED.json files that could not be written before (disk full then)."""
        if now < self._next_unwritten_s:
            return
        self._next_unwritten_s = now + UNWRITTEN_RETRY_POLLS * self.config.watch.poll_interval_s
        for item in self.store.unwritten():
            args = json.loads(item.body)
            if write_failed(
                Path(args["out_dir"]),
                Path(args["pair"]),
                args["stage"],
                args["message"],
                args["problems"],
                allowed_root=self._allowed_for(Path(args["pair"])),
            ):
                self.store.clear_unwritten(item.pair)
                self.log.info("FAILED.json written late", pair=str(item.pair), out_dir=str(item.out_dir))

    def _handle(self, verdict: Verdict, now: float) -> None:
        pair, root = verdict.pair, verdict.root
        log = self.log.bind(pair=str(pair), stage="check")
        if verdict.kind == "ready":
            result, job = self.store.offer(
                pair,
                root,
                self.out_dir_for(pair, root),
                verdict.fingerprint,
                now,
                legacy_fingerprint=verdict.legacy_fingerprint,
            )
            self._reported.pop(pair, None)
            if result == "queued" and job is not None:
                log.info("pair queued", job_id=job.id, force=job.force)
            elif result == "busy":
                self.tracker.touch(pair, root, now, changed=False, check_at_s=now + BUSY_RECHECK_S)
        elif verdict.kind == "failed":
            known = self.store.get(pair)
            if known is not None and known.state == "failed" and known.fingerprint == verdict.fingerprint:
                self._reported.pop(pair, None)
                return  # already failed with this content (e.g. seen again at start-up)
            again = known is not None and known.state == "failed" and known.stage == "check"
            out_dir = self.out_dir_for(pair, root)
            message = "READY but incomplete: " + verdict.reason
            self.store.record_failed(pair, root, out_dir, verdict.fingerprint, message, now)
            self._reported.pop(pair, None)
            self._write_failed(out_dir, pair, "check", message, verdict.reasons, now)
            job = self.store.get(pair)
            if job is not None:
                self.logs.pair_failed(job, verdict.reasons)
                if not again:  # a READY pair still being copied fails once, not at every change
                    self.metrics.pair_failed(job, verdict.reasons)
        elif verdict.kind == "gone":
            self.store.clear_pending(pair)
            self._reported.pop(pair, None)
            self._refused.discard(pair)
            self.tracker.forget(pair)
        elif verdict.kind == "error":
            if self._reported.get(pair) != (verdict.kind, verdict.reason):
                self._reported[pair] = (verdict.kind, verdict.reason)
                log.error("pair check failed; will retry", reason=verdict.reason)
                self.store.set_pending(pair, verdict.reason, False, now)
        elif self._reported.get(pair) != (verdict.kind, verdict.reason):
            self._reported[pair] = (verdict.kind, verdict.reason)
            self.store.set_pending(pair, verdict.reason, verdict.kind == "stalled", now)
            if verdict.kind == "stalled":
                log.warning("pair stalled", reason=verdict.reason)
            else:
                log.debug("pair waiting", reason=verdict.reason)

    def _dispatch(self, now: float) -> None:
        while len(self.running) < self.config.jobs.concurrency:
            job = self.store.claim(now)
            if job is None:
                return
            self.running[job.id] = self.runner.start(job, self.config.pipeline)

    def _reap(self) -> None:
        for job_id, running in list(self.running.items()):
            if running.finished:
                running.thread.join()
                del self.running[job_id]

    def _publish(self, now: float) -> None:
        counts = self.store.counts()
        stalled = sum(1 for kind, _ in self._reported.values() if kind == "stalled")
        waiting = len(self._reported) - stalled + len(self._loose_waiting)
        self.metrics.set_queue(counts["queued"], waiting, stalled)
        if self._watchdog_s is not None and now - self._last_ping_s >= self._watchdog_s:
            sdnotify.notify("WATCHDOG=1")
            self._last_ping_s = now

    # -- stopping and reloading ------------------------------------------------------------
    def _begin_stop(self, now: float) -> None:
        self._stop_deadline_s = now + self.config.jobs.stop_timeout_s
        sdnotify.notify("STOPPING=1")
        self.log.info("stopping", running=len(self.running), timeout_s=self.config.jobs.stop_timeout_s)
        self._stop_intake()
        for running in self.running.values():
            running.cancel.cancel()

    def _continue_stopping(self, now: float) -> bool:
        if not self.running:
            return False
        assert self._stop_deadline_s is not None
        if self._abort_flag or now >= self._stop_deadline_s:
            why = "second signal" if self._abort_flag else "stop timeout"
            for job_id, running in self.running.items():
                self.store.requeue(job_id, f"interrupted ({why})", now)
                self.log.warning("job abandoned and re-queued", job_id=job_id, pair=str(running.job.pair), reason=why)
            self.running.clear()
            self.exit_code = 130 if self._abort_flag else 0
            return False
        return True

    def reload(self, now: float) -> None:
        """SIGHUP: read the config again; keep the old one if the new one is invalid."""
        if self._reload_config is None:
            return
        try:
            new = self._reload_config()
            problems = service_problems(new)
            if problems:
                raise ConfigError("reloaded config", problems)
        except Exception as error:  # noqa: BLE001 - a bad edit must not stop the service
            self.log.error("config reload failed; keeping the old config", error=str(error))
            return
        old = self.config
        if new.advanced.processor != old.advanced.processor:
            try:
                self.runner.processor = self.execution.with_processor(load_processor(new.advanced.processor))
            except Exception as error:  # noqa: BLE001
                self.log.error("config reload failed; keeping the old config", error=str(error))
                return
        self.config = new
        configure_logging(new.log.format, new.log.level)
        self.runner.max_attempts = new.jobs.max_attempts
        for key in ("state_dir", "jobs.store", "metrics", "executor"):
            section, _, name = key.partition(".")
            before, after = getattr(old, section), getattr(new, section)
            if (getattr(before, name) if name else before) != (getattr(after, name) if name else after):
                self.log.warning("config change needs a restart", key=key)
        self.tracker.settle_s = new.watch.settle_s
        self.tracker.stalled_after_s = new.watch.stalled_after_s
        self.tracker.recheck_s = new.watch.poll_interval_s
        self.tracker.follow_links = new.watch.follow_links
        self.tracker.budget_s = new.watch.check_budget_s
        self.tracker.memory_budget_bytes = memory_budget_bytes(new)
        self.loose.settle_s = new.watch.settle_s
        self.loose.recheck_s = new.watch.poll_interval_s
        self.loose.group_by = new.watch.loose_group_by
        self.loose.follow_links = new.watch.follow_links
        if new.watch != old.watch and not self.stopping:
            self._stop_intake()
            try:
                self._start_intake(now)
            except Exception:  # noqa: BLE001 - e.g. a root removed between the check and now
                self.log.exception("watching the reloaded roots failed; keeping the old config")
                self.config = old
                self._stop_intake()
                self._start_intake(now)
                return
        self.log.info("config reloaded")
