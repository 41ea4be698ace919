"""The ``dask`` executor on a real ``distributed.LocalCluster`` of worker processes.

Concurrency, GPU slots, a killed worker, and the config that selects it.

The daemon runs in this process, ticked by the wall clock; the pairs go
through the fake processor (``tests/daemon/fake_processor.py``, the stand-in
every daemon test uses), whose ledger records each start and end with the
worker's pid. The real pipeline through Dask is in ``test_executor_real.py``
(slow).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.config import ExecutorSection, JobqueueCluster, validate_config
from daemon.executor.base import WorkerLost, make_processor, wants_gpu
from daemon.executor.cluster import jobqueue_kwargs
from daemon.service import Daemon
from models.errors import ConfigError
from pipeline.config import ProcessConfig
from tests.daemon import fake_processor
from tests.daemon.conftest import wait_for
from tests.daemon.pairs import make_pair

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

LEASE_TIMEOUT_S = 2  # a killed worker's lease on its job lapses this fast here (30 s by default)


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("ledger") / "ledger.txt"
    before = os.environ.get("FAKE_LEDGER")
    os.environ["FAKE_LEDGER"] = str(path)  # the worker processes inherit it
    yield path
    if before is None:
        os.environ.pop("FAKE_LEDGER", None)
    else:
        os.environ["FAKE_LEDGER"] = before


@pytest.fixture(scope="module")
def cluster(ledger: Path) -> Iterator[object]:
    """Two worker processes, two threads each, one GPU slot each (the resource is declared, no card needed)."""
    env = {
        "DASK_DISTRIBUTED__SCHEDULER__LOCKS__LEASE_TIMEOUT": f"{LEASE_TIMEOUT_S}s",
        "DASK_DISTRIBUTED__SCHEDULER__LOCKS__LEASE_VALIDATION_INTERVAL": "0.2s",
    }
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    config = {
        "distributed.scheduler.locks.lease-timeout": f"{LEASE_TIMEOUT_S}s",
        "distributed.scheduler.locks.lease-validation-interval": "0.2s",
    }
    with dask.config.set(config):
        local = distributed.LocalCluster(
            n_workers=2, threads_per_worker=2, processes=True, resources={"GPU": 1}, dashboard_address=None
        )
        try:
            yield local
        finally:
            local.close()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def make_daemon(tmp_path: Path, scheduler: str, *, concurrency: int, gpu: str = "never") -> Daemon:
    root = tmp_path / "in"
    root.mkdir(exist_ok=True)
    config = validate_config(
        {
            "state_dir": str(tmp_path / "state"),
            "watch": {"roots": [str(root)], "settle_s": 0, "poll_interval_s": 0.5},
            "jobs": {"concurrency": concurrency, "max_attempts": 3},
            "advanced": {"processor": "tests.daemon.fake_processor:process_pair"},
            "executor": {"kind": "dask", "scheduler": scheduler, "gpu": gpu},
            "pipeline": {"preset": "small"},
        }
    )
    return Daemon(config, serve_metrics=False)


def finished(daemon: Daemon, pairs: list[Path]) -> bool:
    """Every pair's job is done or failed."""
    jobs = [daemon.store.get(pair) for pair in pairs]
    return all(job is not None and job.state in ("done", "failed") for job in jobs)


def run_until(daemon: Daemon, condition, timeout_s: float, what: str) -> None:
    """Tick the daemon with the wall clock until ``condition()``."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        daemon.tick(time.time())
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def entries(ledger: Path, pair: Path) -> list[tuple[float, int, str]]:
    """(time, worker pid, event) for ``pair`` from the fake processor's ledger."""
    rows = []
    for line in ledger.read_text().splitlines() if ledger.exists() else []:
        stamp, pid, event, path = line.split(" ", 3)
        if Path(path) == pair:
            rows.append((float(stamp), int(pid), event))
    return rows


def intervals(ledger: Path, pairs: list[Path]) -> list[tuple[float, float, int]]:
    """(start, end, pid) of each finished run of ``pairs``."""
    runs = []
    for pair in pairs:
        rows = entries(ledger, pair)
        starts = [row for row in rows if row[2] == "start"]
        ends = [row for row in rows if row[2] == "done"]
        runs += [(start[0], end[0], start[1]) for start, end in zip(starts, ends, strict=False)]
    return runs


def test_two_pairs_run_at_the_same_time_on_the_cluster(tmp_path: Path, cluster, ledger: Path) -> None:
    daemon = make_daemon(tmp_path, cluster.scheduler_address, concurrency=2)
    pairs = [make_pair(tmp_path / "in" / name, fake={"stage_s": 0.4}, ready_file=True) for name in ("a", "b")]
    daemon.start()
    try:
        run_until(daemon, lambda: finished(daemon, pairs), 60, "both pairs done")
        jobs = [daemon.store.get(pair) for pair in pairs]
    finally:
        daemon.shutdown()
    (a_start, a_end, a_pid), (b_start, b_end, b_pid) = intervals(ledger, pairs)
    assert a_start < b_end and b_start < a_end, "the two pairs overlapped in time"
    assert os.getpid() not in (a_pid, b_pid), "processed on the workers, not in the daemon"
    for pair, job in zip(pairs, jobs, strict=True):
        assert (daemon.config.output_root / pair.name / "DONE").exists()
        assert job.state == "done" and job.attempts == 1


def test_gpu_jobs_never_share_a_worker_card(tmp_path: Path, cluster, ledger: Path) -> None:
    daemon = make_daemon(tmp_path, cluster.scheduler_address, concurrency=4, gpu="always")
    pairs = [make_pair(tmp_path / "in" / f"g{i}", fake={"stage_s": 0.3}, ready_file=True) for i in range(3)]
    daemon.start()
    try:
        run_until(daemon, lambda: finished(daemon, pairs), 60, "three GPU pairs done")
    finally:
        daemon.shutdown()
    runs = intervals(ledger, pairs)
    assert len(runs) == 3
    for i, (start, end, pid) in enumerate(runs):
        for other_start, other_end, other_pid in runs[i + 1 :]:
            if pid == other_pid:  # each worker has two threads but one GPU slot
                assert end <= other_start or other_end <= start, "two GPU jobs ran on one card at once"


def test_a_stop_cancels_the_job_on_its_worker_and_requeues_it(tmp_path: Path, cluster, ledger: Path) -> None:
    daemon = make_daemon(tmp_path, cluster.scheduler_address, concurrency=1)
    pair = make_pair(tmp_path / "in" / "s", fake={"stage_s": 5.0}, ready_file=True)
    daemon.start()
    try:
        run_until(daemon, lambda: entries(ledger, pair), 60, "the job to start on a worker")
        daemon.request_stop()
        end = time.monotonic() + 30
        while daemon.tick(time.time()) and time.monotonic() < end:
            time.sleep(0.05)
        job = daemon.store.get(pair)
    finally:
        daemon.shutdown()
    assert [event for _, _, event in entries(ledger, pair)] == ["start", "cancelled"], "stopped on the worker"
    assert job.state == "queued" and job.attempts == 0, job


def test_a_job_whose_daemon_disconnects_is_cancelled_on_its_worker(tmp_path: Path, cluster, ledger: Path) -> None:
    from daemon.executor.remote import DaskProcessor

    client = distributed.Client(cluster.scheduler_address)
    executor = ExecutorSection(kind="dask", scheduler=cluster.scheduler_address, gpu="never")
    remote = DaskProcessor(client, fake_processor.process_pair, executor)
    pair = make_pair(tmp_path / "in" / "o", fake={"stage_s": 5.0})
    raised: list[BaseException] = []

    def call() -> None:
        try:
            remote(pair, tmp_path / "out", ProcessConfig())
        except BaseException as error:  # noqa: BLE001 - the test looks at it
            raised.append(error)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    wait_for(lambda: entries(ledger, pair), 60, "the job to start on a worker")
    client.close()  # the daemon gone: the scheduler releases its task
    wait_for(lambda: entries(ledger, pair)[-1][2] == "cancelled", 20, "the orphaned attempt to stop")
    thread.join(10)
    assert [event for _, _, event in entries(ledger, pair)] == ["start", "cancelled"]
    assert len(raised) == 1 and isinstance(raised[0], WorkerLost), "the daemon side re-queues it"


# last of the cluster tests: the killed worker's replacement starts cold (imports again)
def test_a_killed_worker_requeues_its_job_which_then_finishes_once(tmp_path: Path, cluster, ledger: Path) -> None:
    daemon = make_daemon(tmp_path, cluster.scheduler_address, concurrency=1)
    pair = make_pair(tmp_path / "in" / "k", fake={"stage_s": 0.4}, ready_file=True)
    daemon.start()
    try:
        run_until(daemon, lambda: entries(ledger, pair), 60, "the job to start on a worker")
        killed_pid = entries(ledger, pair)[0][1]
        os.kill(killed_pid, signal.SIGKILL)
        run_until(daemon, lambda: finished(daemon, [pair]), 90, "the job to finish")
        job = daemon.store.get(pair)
    finally:
        daemon.shutdown()
    assert job.state == "done" and job.attempts == 2, job
    events = [(pid, event) for _, pid, event in entries(ledger, pair)]
    assert events[0] == (killed_pid, "start") and events.count((killed_pid, "done")) == 0
    assert [event for _, event in events] == ["start", "start", "done"], "re-run once, finished once"
    assert events[1][0] != killed_pid
    assert (daemon.config.output_root / "k" / "DONE").exists()


@pytest.mark.parametrize("max_attempts, state", [(2, "queued"), (1, "failed")])
def test_a_lost_worker_counts_an_attempt_like_a_crash(tmp_path: Path, max_attempts: int, state: str) -> None:
    from daemon.store import JobStore
    from daemon.worker import JobRunner
    from models.events import CancelToken

    def lost(*args, **kwargs):
        raise WorkerLost("the Dask worker died (test)")

    store = JobStore(tmp_path / "jobs.sqlite3")
    store.offer(tmp_path / "pair", tmp_path, tmp_path / "out", "fp", 1.0)
    job = store.claim(2.0)
    runner = JobRunner(store, lost, [], clock=lambda: 3.0, wake=threading.Event(), max_attempts=max_attempts)

    runner.run(job, ProcessConfig(), CancelToken())

    after = store.get_id(job.id)
    assert after.state == state and after.attempts == 1
    failed = tmp_path / "out" / "FAILED.json"
    assert failed.exists() == (state == "failed")
    if state == "failed":
        assert "interrupted 1 times (the Dask worker died (test) during this pair)" in failed.read_text()
    store.close()


@pytest.mark.parametrize(
    "pipeline, gpu, expected",
    [
        ({"preset": "small"}, "auto", False),
        ({"preset": "standard"}, "auto", True),
        ({"preset": "small", "reconstruction": {"backend": "tigre"}}, "auto", True),
        ({"preset": "small", "inference": {"runtime": "tensorrt"}}, "auto", True),
        ({"preset": "standard"}, "never", False),
        ({"preset": "small"}, "always", True),
    ],
)
def test_a_job_asks_for_a_gpu_when_its_config_needs_one(pipeline: dict, gpu: str, expected: bool) -> None:
    executor = ExecutorSection(kind="dask", scheduler="tcp://scheduler:8786", gpu=gpu)
    assert wants_gpu(executor, ProcessConfig.model_validate(pipeline)) is expected


@pytest.mark.parametrize(
    "executor, problem",
    [
        ({"kind": "dask"}, "executor: Value error, kind 'dask' needs scheduler"),
        ({"kind": "dask", "scheduler": "tcp://s:8786", "cluster": {"system": "slurm"}}, "set either scheduler"),
        ({"kind": "dask", "cluster": {"system": "slurm", "gpus_per_job": 3, "processes": 2}}, "multiple of processes"),
        ({"kind": "dask", "cluster": {"system": "lsf"}}, "executor.cluster.system"),
    ],
)
def test_invalid_executor_sections_name_the_key(executor: dict, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        validate_config({"executor": executor})
    assert any(problem in line for line in raised.value.problems), raised.value.problems


def test_a_slurm_spec_becomes_jobqueue_arguments_with_one_gpu_per_worker() -> None:
    spec = JobqueueCluster(system="slurm", queue="gpu", account="ct", cores=16, processes=2, gpus_per_job=2, jobs=3)
    kwargs = jobqueue_kwargs(spec)
    assert kwargs["queue"] == "gpu" and kwargs["account"] == "ct" and kwargs["processes"] == 2
    assert kwargs["cores"] == 2 and kwargs["job_cpu"] == 16, "one pair per worker thread, 16 cores booked"
    assert kwargs["worker_extra_args"] == ["--resources", "GPU=1"]
    assert "local_directory" not in kwargs


def test_the_slurm_job_script_books_the_cores_and_declares_the_gpu() -> None:
    dask_jobqueue = pytest.importorskip("dask_jobqueue")  # optional: the jobqueue extra
    spec = JobqueueCluster(system="slurm", queue="gpu", cores=8, gpus_per_job=1, job_extra_directives=["--gres=gpu:1"])

    with dask_jobqueue.SLURMCluster(**jobqueue_kwargs(spec), scheduler_options={"dashboard_address": ":0"}) as slurm:
        script = slurm.job_script()

    assert "#SBATCH --cpus-per-task=8" in script and "#SBATCH --gres=gpu:1" in script
    assert "--nthreads 1" in script and "--resources GPU=1" in script


def test_the_local_executor_needs_no_dask(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("distributed", "dask", "daemon.executor.remote"):
        monkeypatch.setitem(sys.modules, name, None)  # importing any of them now fails

    execution = make_processor(validate_config({}).executor, print)

    assert execution.processor is print


def test_the_dask_executor_without_dask_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "daemon.executor.remote", None)
    executor = ExecutorSection(kind="dask", scheduler="tcp://scheduler:8786")

    with pytest.raises(ConfigError, match=r"scoutzoom\[dask\]") as raised:
        make_processor(executor, print)

    assert raised.value.source == "executor.kind"


def test_watch_with_an_unreachable_scheduler_says_so_and_exits(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad executor is a usage error naming the key, not a traceback (the daemon never starts)."""
    from daemon import exit_codes
    from daemon.cli import main

    root = tmp_path / "in"
    root.mkdir()
    config = tmp_path / "config.toml"
    config.write_text(
        f'state_dir = "{tmp_path / "state"}"\n[watch]\nroots = ["{root}"]\n[output]\nroot = "{tmp_path / "out"}"\n'
        '[executor]\nkind = "dask"\nscheduler = "tcp://127.0.0.1:9"\nconnect_timeout_s = 1\n'
    )
    monkeypatch.setattr("daemon.logs.configure_logging", lambda *_: None)  # keep pytest's captured stderr intact
    code = main(["watch", "--config", str(config)])
    assert code == exit_codes.USAGE
    assert "executor.scheduler" in capsys.readouterr().err


def test_a_loose_pair_gets_a_task_key_from_its_zoom(tmp_path: Path) -> None:
    """Loose jobs reach the executor as PairSources (two paths), not a folder."""
    from daemon.executor.remote import _job_key
    from pipeline.pair.sources import PairSources

    pair = PairSources.from_paths(tmp_path / "foam_scout.txrm", tmp_path / "foam_zoom.txrm")
    key = _job_key(pair)
    assert key.startswith("scoutzoom-foam_zoom.txrm-") and key == _job_key(tmp_path / "foam_zoom.txrm")
