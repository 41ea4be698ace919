"""The executor seam: the processor the daemon's job threads call, and the error for a lost worker.

``local`` is the processor itself; ``dask`` wraps it in
:class:`daemon.executor.remote.DaskProcessor`, imported only then, so a local
daemon needs no Dask at run time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from daemon.config import ExecutorSection
from models.errors import ConfigError, ScoutzoomError
from pipeline.config import ProcessConfig
from pipeline.pair.process import ProcessOutcome

Processor = Callable[..., ProcessOutcome]
GPU_BACKENDS = ("rtk-cuda", "tigre")  # FDK backends that need a card
GPU_RUNTIMES = ("tensorrt",)


class WorkerLost(ScoutzoomError):
    """The process running a job died (a Dask worker killed, its node gone); the job is re-queued as after a crash."""


def wants_gpu(executor: ExecutorSection, pipeline: ProcessConfig) -> bool:
    """Whether a job asks for the Dask resource ``GPU=1``: always/never, or (auto) when its config needs a card."""
    if executor.gpu != "auto":
        return executor.gpu == "always"
    return (
        pipeline.preset == "standard"
        or pipeline.reconstruction.backend in GPU_BACKENDS
        or pipeline.inference.runtime in GPU_RUNTIMES
    )


@dataclass
class Execution:
    """The processor the job threads call, how to swap what it runs (config reload), what to close at shutdown."""

    processor: Processor
    close: Callable[[], None] = field(default=lambda: None)
    swap: Callable[[Processor], Processor] = field(default=lambda processor: processor)

    def with_processor(self, processor: Processor) -> Processor:
        """The processor job threads call once ``processor`` replaces the configured one."""
        self.processor = self.swap(processor)
        return self.processor


def make_processor(executor: ExecutorSection, processor: Processor) -> Execution:
    """``processor`` itself (local), or a processor that runs it on the Dask cluster the config names."""
    if executor.kind == "local":
        return Execution(processor)
    try:
        from daemon.executor.remote import DaskProcessor
    except ImportError as error:
        raise ConfigError(
            "executor.kind", [f"'dask' needs the dask extra: pip install 'scoutzoom[dask]' ({error})"]
        ) from error
    remote = DaskProcessor.connect(executor, processor)

    def swap(new: Processor) -> Processor:
        remote.processor = new
        return remote

    return Execution(remote, remote.close, swap)
