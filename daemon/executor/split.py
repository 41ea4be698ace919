"""One huge volume's inference split across the workers of a Dask cluster, one task per z block.

The caller creates the partial OME-Zarr (``OmeZarrVolume(..., resume=True)``)
and the source ``.npy`` on a file system every worker sees, calls
:func:`infer_split`, and finishes the volume (pyramid, mask, metadata) once it
returns. Each task is :func:`pipeline.infer.blocks.run_block` on one block of
whole chunks; a block re-run by Dask after its worker died continues from its
own ledger and rewrites only its own chunks, so re-runs are safe. Dask is
imported only by whoever calls this.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from models.errors import Cancelled
from models.events import CancelToken
from models.runtimes import InferenceRuntime
from pipeline.infer.blocks import BlockTask, block_tasks, run_block
from pipeline.infer.stream import InferenceStats

POLL_S = 0.25  # cancellation is looked at this often while the blocks run
BLOCK_RETRIES = 2  # Dask re-runs a block whose worker died (idempotent: own chunks, own ledger)


@dataclass(frozen=True)
class BlockResult:
    """One block as written: its ``[z0, z1)``, the worker that wrote it and its inference figures."""

    z0: int
    z1: int
    worker: str
    stats: InferenceStats


def _run_on_worker(task: BlockTask, make_runtime: Callable[[], InferenceRuntime]) -> BlockResult:
    """The function each task runs on its worker."""
    from distributed import get_worker

    stats = run_block(task, make_runtime)
    return BlockResult(z0=task.z0, z1=task.z1, worker=get_worker().address, stats=stats)


def infer_split(
    client: Any,
    template: BlockTask,
    make_runtime: Callable[[], InferenceRuntime],
    *,
    blocks: int | None = None,
    gpu: bool = False,
    cancel: CancelToken | None = None,
) -> list[BlockResult]:
    """Write every block of ``template``'s volume on ``client``'s cluster (``blocks``: default one per worker;
    ``gpu``: each task asks for the resource ``GPU=1``); results in z order. ``make_runtime`` must pickle (it
    builds the runtime on the worker, e.g. ``functools.partial(load_runtime, onnx_path)``)."""
    from distributed import wait

    count = blocks or max(1, len(client.scheduler_info().get("workers", {})))
    tasks = block_tasks(template, count)
    batch = uuid.uuid4().hex[:8]
    futures = [
        client.submit(
            _run_on_worker,
            task,
            make_runtime,
            key=f"scoutzoom-block-{template.fingerprint}-{task.z0}-{task.z1}-{batch}",
            pure=False,
            retries=BLOCK_RETRIES,
            resources={"GPU": 1} if gpu else None,
        )
        for task in tasks
    ]
    while True:
        if cancel is not None and cancel.cancelled:
            client.cancel(futures)
            raise Cancelled("cancelled during the inference split across workers")
        try:
            wait(futures, timeout=POLL_S)
        except TimeoutError:
            continue
        break
    results = client.gather(futures)
    return sorted(results, key=lambda result: result.z0)
