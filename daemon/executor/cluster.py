"""The Dask client of the ``dask`` executor: a running scheduler, or a dask-jobqueue cluster the daemon starts.

For a jobqueue cluster (SLURM, PBS) the daemon owns the scheduler and keeps
``cluster.jobs`` batch jobs running (adaptively, so one that ends is
replaced); each job's workers declare the resource
``GPU`` when the jobs have cards (``--resources GPU=n``), which is what keeps
two GPU jobs off one card. dask-jobqueue is imported only here, only then.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from daemon.config import ExecutorSection, JobqueueCluster
from models.errors import ConfigError

CLUSTER_CLASSES = {"slurm": "SLURMCluster", "pbs": "PBSCluster"}


def jobqueue_kwargs(spec: JobqueueCluster) -> dict[str, Any]:
    """The keyword arguments of ``dask_jobqueue.SLURMCluster``/``PBSCluster`` for ``spec`` (no Dask needed).

    Each worker runs one pair at a time (one Dask thread) and the batch job books ``cores`` for the pipeline's
    own threads, so a worker never runs eight pairs on eight cores.
    """
    kwargs: dict[str, Any] = {
        "cores": spec.processes,  # one Dask thread per worker: one pair at a time; the pipeline threads itself
        "memory": spec.memory,
        "processes": spec.processes,
        "walltime": spec.walltime,
        "job_extra_directives": list(spec.job_extra_directives),
        "job_script_prologue": list(spec.job_script_prologue),
    }
    for name in ("queue", "account", "local_directory", "log_directory"):
        value = getattr(spec, name)
        if value is not None:
            kwargs[name] = value
    if spec.system == "slurm":
        kwargs["job_cpu"] = spec.cores  # the cores booked, for the pipeline's own threads (numba, TensorFlow)
    else:
        kwargs["resource_spec"] = f"select=1:ncpus={spec.cores}:mem={spec.memory}"
    if spec.gpus_per_job:
        kwargs["worker_extra_args"] = ["--resources", f"GPU={spec.gpus_per_job // spec.processes}"]
    return kwargs


def start_client(executor: ExecutorSection) -> tuple[Any, Callable[[], None]]:
    """A connected ``distributed.Client`` and the function that closes it (and the cluster, if we started one)."""
    from distributed import Client

    timeout = f"{executor.connect_timeout_s}s"
    if executor.scheduler is not None:
        try:
            client = Client(executor.scheduler, timeout=timeout)
        except OSError as error:
            raise ConfigError("executor.scheduler", [f"cannot reach {executor.scheduler}: {error}"]) from error
        return client, client.close
    spec = executor.cluster
    try:
        import dask_jobqueue
    except ImportError as error:
        raise ConfigError(
            "executor.cluster.system", [f"needs dask-jobqueue: pip install 'scoutzoom[jobqueue]' ({error})"]
        ) from error
    cluster = getattr(dask_jobqueue, CLUSTER_CLASSES[spec.system])(**jobqueue_kwargs(spec))
    cluster.adapt(minimum_jobs=spec.jobs, maximum_jobs=spec.jobs)  # adaptive: an ended batch job is replaced
    client = Client(cluster, timeout=timeout)

    def close() -> None:
        client.close()
        cluster.close()

    return client, close
