"""Streaming tiled inference of a 2.5D network over a whole volume.

The volume is processed in z-slabs: a slab of input slices (plus ``slices // 2``
of halo, reflected at the volume ends) is read from ``source``, normalised and
reflect-padded in-plane; every output slice is predicted from its
``slices``-stack in overlapping 2D tiles (``pipeline.infer.tiling``), batched
through the runtime, blended, de-normalised and written to ``dest``. Memory is
bounded by the slab size, which depends on the slice size and the budget,
never on the number of slices.

With a :class:`~pipeline.infer.resume.SlabLedger`, every slab is recorded once it is written and
flushed, and slabs the ledger already records are skipped, so an interrupted run continues where it
stopped. A destination with a ``chunk_z`` (the OME-Zarr writer) gets slabs of whole chunks, so no
chunk is shared by a finished and an unfinished slab.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from models.events import CancelToken, ProgressCallback, step
from models.runtimes import InferenceRuntime
from models.tiles import reflect_index
from models.trained import Normalisation
from pipeline.infer.config import InferenceConfig
from pipeline.infer.resume import SlabLedger
from pipeline.infer.tiling import TileSpec, plan_tiles

STAGE = "infer"
MAX_SLAB_Z = 64


class InferenceStats(BaseModel):
    """One inference run over a volume (``report.json``'s ``inference``)."""

    runtime: str = Field(description="runtime and device, e.g. onnxruntime-cpu")
    voxels: int = Field(description="voxels of the output range")
    seconds: float = Field(description="wall time (s)")
    voxels_per_s: float = Field(description="voxels computed per second (1/s)")
    tiles_run: int = Field(description="tiles passed through the network")
    slabs: int = Field(description="z slabs of the output range")
    slab_z: int = Field(description="output slices per slab")
    tile_shape: tuple[int, int] = Field(description="tile read shape, y, x, overlap and margin included (voxels)")
    slab_bytes: int = Field(description="largest slab's input and output arrays (bytes)")
    slabs_skipped: int = Field(0, description="slabs already written by an interrupted run (resumed)")
    voxels_computed: int | None = Field(None, description="voxels computed in this run (voxels minus resumed)")
    read_seconds: float = Field(
        0.0, description="part of seconds spent reading the input slabs (a streamed source: making them, e.g. FDK) (s)"
    )


def slab_depth(shape_zyx: tuple[int, int, int], slices: int, config: InferenceConfig, chunk_z: int = 1) -> int:
    """Output slices per slab: as many as fit a quarter of the budget (about 3 float32 copies per slice), capped,
    then rounded down to whole destination chunks of ``chunk_z`` slices (at least one chunk)."""
    nz, ny, nx = shape_zyx
    if config.slab_z is not None:
        depth = min(config.slab_z, nz)
    else:
        m = config.margin
        slice_bytes = 4 * (ny + 2 * m) * (nx + 2 * m)
        fit = int(config.memory_budget_gb * 1e9 * 0.25 // (3 * slice_bytes)) - (slices - 1)
        depth = max(1, min(nz, MAX_SLAB_Z, fit))
    if chunk_z > 1 and depth < nz:
        depth = max(chunk_z, depth // chunk_z * chunk_z)
    return min(depth, nz)


def _read_slab(source: Any, z0: int, z1: int, slices: int, margin: int, normalisation: Normalisation) -> np.ndarray:
    """Normalised, in-plane reflect-padded input slices ``z0 - half .. z1 + half`` (z reflected at the ends)."""
    nz = source.shape[0]
    half = slices // 2
    zs = reflect_index(np.arange(z0 - half, z1 + half), nz)
    lo, hi = int(zs.min()), int(zs.max()) + 1
    block = normalisation.apply(np.asarray(source[lo:hi]))[zs - lo]
    if margin:
        _, ny, nx = block.shape
        mode = "reflect" if ny > 1 and nx > 1 else "symmetric"
        block = np.pad(block, ((0, 0), (margin, margin), (margin, margin)), mode=mode)
    return block


def _stack(block: np.ndarray, zi: int, tile: TileSpec, slices: int, margin: int) -> np.ndarray:
    y0, x0 = tile.y.read0 + margin, tile.x.read0 + margin
    h, w = tile.read_shape
    return np.moveaxis(block[zi : zi + slices, y0 : y0 + h, x0 : x0 + w], 0, -1)


def infer_volume(
    runtime: InferenceRuntime,
    source: Any,
    dest: Any,
    normalisation: Normalisation,
    config: InferenceConfig,
    *,
    slices: int = 5,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    ledger: SlabLedger | None = None,
    z_range: tuple[int, int] | None = None,
) -> InferenceStats:
    """Predict every slice of ``source`` ([z, y, x] array-like) into ``dest`` (same shape, written slab by slab);
    with ``ledger``, skip the slabs it records as written and record each new one.

    ``z_range`` ``[z0, z1)``: predict only those slices (one worker's block of a volume split across workers,
    :mod:`pipeline.infer.blocks`); the halo is still read from the whole ``source``, and the slabs are those of
    the whole volume's slab depth from ``z0``, so each slice equals what a run over the whole volume writes."""
    if tuple(source.shape) != tuple(dest.shape) or len(source.shape) != 3:
        raise ValueError(f"source and dest must be [z, y, x] of one shape (got {source.shape} and {dest.shape})")
    started = time.perf_counter()
    nz, ny, nx = (int(n) for n in source.shape)
    margin = config.margin
    tiles = plan_tiles((ny, nx), config.tile_px, config.overlap_px, margin)
    tile_weights = [t.weights for t in tiles]
    slab_z = slab_depth((nz, ny, nx), slices, config, int(getattr(dest, "chunk_z", 1)))
    lo, hi = (0, nz) if z_range is None else (int(z_range[0]), int(z_range[1]))
    if not 0 <= lo < hi <= nz:
        raise ValueError(f"z_range must lie within [0, {nz}) and not be empty (got {z_range})")
    slabs = (hi - lo + slab_z - 1) // slab_z
    done = ledger.start(slab_z) if ledger is not None else set()
    tiles_run, slab_bytes, skipped, computed_z, read_seconds = 0, 0, 0, 0, 0.0
    for z0 in range(lo, hi, slab_z):
        if cancel is not None:
            cancel.raise_if_cancelled("inference")
        z1 = min(hi, z0 + slab_z)
        if (z0, z1) in done:
            skipped += 1
            step(progress, STAGE, z1 - lo, hi - lo, voxels=0.0)
            continue
        read_started = time.perf_counter()
        block = _read_slab(source, z0, z1, slices, margin, normalisation)
        read_seconds += time.perf_counter() - read_started
        out = np.zeros((z1 - z0, ny, nx), np.float32)
        slab_bytes = max(slab_bytes, block.nbytes + out.nbytes)
        jobs = [(zi, ti) for zi in range(z1 - z0) for ti in range(len(tiles))]
        for b in range(0, len(jobs), config.batch_size):
            chunk = jobs[b : b + config.batch_size]
            batch = np.stack([_stack(block, zi, tiles[ti], slices, margin) for zi, ti in chunk])
            if len(chunk) < config.batch_size:  # keep one batch shape (TensorRT builds an engine per shape)
                batch = np.concatenate([batch, np.repeat(batch[-1:], config.batch_size - len(chunk), axis=0)])
            predicted = np.asarray(runtime.predict(batch))
            if predicted.shape != batch.shape[:3]:
                raise RuntimeError(
                    f"runtime {runtime.name} returned {predicted.shape} for a batch of {batch.shape} "
                    f"(expected {batch.shape[:3]}: one prediction per tile)"
                )
            for (zi, ti), pred in zip(chunk, predicted):
                t = tiles[ti]
                ch, cw = t.core_shape
                out[zi, t.y.core0 : t.y.core1, t.x.core0 : t.x.core1] += (
                    pred[t.y.crop0 : t.y.crop0 + ch, t.x.crop0 : t.x.crop0 + cw] * tile_weights[ti]
                )
            tiles_run += len(chunk)
        dest[z0:z1] = normalisation.invert(out).astype(dest.dtype, copy=False)
        del block, out
        if ledger is not None:
            if hasattr(dest, "flush"):
                dest.flush()
            ledger.mark(z0, z1)
        computed_z += z1 - z0
        step(progress, STAGE, z1 - lo, hi - lo, voxels=float((z1 - z0) * ny * nx))
    if hasattr(dest, "flush"):
        dest.flush()
    seconds = time.perf_counter() - started
    voxels = (hi - lo) * ny * nx
    computed = computed_z * ny * nx
    return InferenceStats(
        runtime=runtime.name,
        voxels=voxels,
        seconds=seconds,
        voxels_per_s=computed / max(seconds, 1e-9),
        tiles_run=tiles_run,
        slabs=slabs,
        slab_z=slab_z,
        tile_shape=tiles[0].read_shape,
        slab_bytes=slab_bytes,
        slabs_skipped=skipped,
        voxels_computed=computed,
        read_seconds=read_seconds,
    )
