"""One volume's inference split across workers by z blocks of whole OME-Zarr chunks.

:func:`partition_z` cuts the output's z range into contiguous blocks whose
bounds are multiples of the chunk depth, so every chunk belongs to exactly one
block and two workers never write one chunk file. :func:`run_block` is what a
worker runs: it attaches to the partial OME-Zarr the caller created
(``OmeZarrVolume(..., resume=True)``), reads its input and halo from the shared
source memmap and predicts only its block, with a ledger of its own (a retried
block continues). Each slice's value depends only on its input stack and the
in-plane tiling (the stitching weights are exact), so the blocks together equal
one run over the whole volume. The caller builds the pyramid and the mask once
all blocks are written (:meth:`OmeZarrVolume.finish`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from models.events import CancelToken, ProgressCallback
from models.runtimes import InferenceRuntime
from models.trained import Normalisation
from pipeline.grid import VolumeGrid
from pipeline.infer.config import InferenceConfig
from pipeline.infer.stream import InferenceStats, infer_volume


def partition_z(nz: int, chunk_z: int, blocks: int) -> list[tuple[int, int]]:
    """At most ``blocks`` contiguous ``[z0, z1)`` covering ``[0, nz)``, bounds on multiples of ``chunk_z`` (the
    last ends at ``nz``), as even as whole chunks allow (never more blocks than chunks)."""
    if nz < 1 or chunk_z < 1 or blocks < 1:
        raise ValueError(f"nz, chunk_z and blocks must be positive (got {nz}, {chunk_z}, {blocks})")
    chunks = -(-nz // chunk_z)
    blocks = min(blocks, chunks)
    share, extra = divmod(chunks, blocks)
    bounds, start = [], 0
    for index in range(blocks):
        stop = start + share + (1 if index < extra else 0)
        bounds.append((start * chunk_z, min(nz, stop * chunk_z)))
        start = stop
    return bounds


class BlockTask(BaseModel):
    """What a worker needs to write one block: where the source and the partial OME-Zarr are, the output grid and
    chunking, the model's normalisation and the tiling, the job's fingerprint and the block ``[z0, z1)``."""

    model_config = ConfigDict(extra="forbid")

    source: Path = Field(description="the input volume on the output grid, a .npy file every worker can read")
    target: Path = Field(description="the final OME-Zarr folder (its partial folder must exist)")
    temporary_dir: Path | None = None
    grid: VolumeGrid
    chunk_z: int = Field(ge=1)
    normalisation: Normalisation
    inference: InferenceConfig
    slices: int = Field(ge=1)
    fingerprint: str
    z0: int = Field(ge=0)
    z1: int = Field(ge=1)


def block_tasks(template: BlockTask, blocks: int) -> list[BlockTask]:
    """``template`` once per block of :func:`partition_z` over its grid (the template's own z range is ignored)."""
    nz = template.grid.shape_zyx[0]
    return [template.model_copy(update={"z0": z0, "z1": z1}) for z0, z1 in partition_z(nz, template.chunk_z, blocks)]


def run_block(
    task: BlockTask,
    make_runtime: Callable[[], InferenceRuntime],
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> InferenceStats:
    """Predict block ``[task.z0, task.z1)`` into the shared partial OME-Zarr (only this block's chunks)."""
    from pipeline.output.zarr_volume import OmeZarrVolume

    nz = task.grid.shape_zyx[0]
    if task.z0 % task.chunk_z or (task.z1 % task.chunk_z and task.z1 != nz) or not task.z0 < task.z1 <= nz:
        raise ValueError(f"block [{task.z0}, {task.z1}) is not whole chunks of {task.chunk_z} within [0, {nz})")
    source = np.load(task.source, mmap_mode="r")
    dest = OmeZarrVolume(
        task.target,
        task.grid,
        chunk_z=task.chunk_z,
        temporary_dir=task.temporary_dir,
        resume=True,
        must_exist=True,
    )
    return infer_volume(
        make_runtime(),
        source,
        dest,
        task.normalisation,
        task.inference,
        slices=task.slices,
        progress=progress,
        cancel=cancel,
        ledger=dest.ledger(task.fingerprint, block=(task.z0, task.z1)),
        z_range=(task.z0, task.z1),
    )
