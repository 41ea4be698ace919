"""``reconstruct``: FDK of one scan onto any grid, slab by slab, with checks, a mask and progress."""

from __future__ import annotations

import time

import numpy as np
from pydantic import BaseModel, ConfigDict

from models.events import CancelToken, ProgressCallback, step
from pipeline.acquisition.scan import Scan
from pipeline.errors import ReconstructionError
from pipeline.grid import VolumeGrid
from pipeline.reconstruct.backends import SlabJob
from pipeline.reconstruct.backends.base import BatchProgress, PrefilteredBackend
from pipeline.reconstruct.config import ReconConfig
from pipeline.reconstruct.filtered import FilteredProjections
from pipeline.reconstruct.setup import prepare_fdk
from pipeline.reconstruct.slabs import plan_slabs

STAGE = "reconstruct"
_GB = 1024**3


class ReconResult(BaseModel):
    """A reconstructed volume (float32 ``[z, y, x]``, 1/mm) with its reconstructable-region mask."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    volume: np.ndarray
    mask: np.ndarray
    grid: VolumeGrid
    backend: str
    seconds: float
    interior: bool
    truncation_correction: float
    short_scan: bool
    slabs: int
    peak_slab_bytes: int
    warnings: list[str]


def _check_out(out: np.ndarray | None, grid: VolumeGrid) -> np.ndarray:
    if out is None:
        return np.zeros(grid.shape_zyx, dtype=np.float32)
    if out.shape != grid.shape_zyx or out.dtype != np.float32:
        raise ReconstructionError(f"out array is {out.dtype}{out.shape}, need float32{grid.shape_zyx}")
    if not out.flags.writeable:
        raise ReconstructionError("out array is read-only")
    return out


class _SlabProgress:
    """Step events in projections over all slabs: from a backend's batches, and at each slab's end (once)."""

    def __init__(self, progress: ProgressCallback | None, slabs: int, per_slab: int) -> None:
        self.progress = progress
        self.slabs = slabs
        self.per_slab = max(per_slab, 1)
        self.last = 0

    def _emit(self, slab: int, projections: int) -> None:
        done = slab * self.per_slab + min(projections, self.per_slab)
        if done > self.last:
            self.last = done
            step(self.progress, STAGE, done, self.slabs * self.per_slab, slab=float(slab + 1), slabs=float(self.slabs))

    def batch_callback(self, slab: int) -> BatchProgress:
        return lambda projections, _total: self._emit(slab, projections)

    def slab_done(self, slab: int) -> None:
        self._emit(slab, self.per_slab)


def reconstruct(
    scan: Scan,
    grid: VolumeGrid,
    config: ReconConfig = ReconConfig(),
    *,
    interior: bool | None = None,
    out: np.ndarray | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    filtered: FilteredProjections | None = None,
) -> ReconResult:
    """FDK of ``scan`` onto ``grid`` (placed in the scan's frame, mm).

    ``interior=None`` detects truncated projections (object wider than the
    detector) and then applies the ramp filter's truncation correction.
    ``out`` (float32, ``grid.shape_zyx``, e.g. a memory map) is filled slab by
    slab, each slab's working memory within ``config.memory_budget_gb``.
    ``filtered`` (from :func:`pipeline.reconstruct.filtered.filter_scan` on this
    scan and config) skips the filtering: the numba backend back-projects it
    directly, other backends filter again (said in ``warnings``). Progress
    counts projections back-projected over all slabs (``total`` = slabs x
    projections): per batch of projections inside a slab with the numba
    backend, per slab with the others; announcing the stage is the caller's job.
    Raises :class:`ReconstructionError` on input FDK cannot use.
    """
    started = time.perf_counter()
    geometry = scan.meta.geometry
    setup = prepare_fdk(scan, grid, config, interior, filtered)
    warnings, kind, mask, interior = setup.warnings, setup.kind, setup.mask, setup.interior
    truncation, backend, prefiltered = setup.truncation_correction, setup.backend, setup.filtered
    volume = _check_out(out, grid)
    slabs, peak = plan_slabs(geometry, grid, config.memory_budget_gb * _GB, parker=kind == "short")
    if peak > config.memory_budget_gb * _GB:
        warnings.append(f"one z slice needs {peak / _GB:.2f} GB, over the {config.memory_budget_gb} GB budget")
    per_slab = int(scan.line_integrals.shape[0])
    reported = _SlabProgress(progress, len(slabs), per_slab)
    batched = isinstance(backend, PrefilteredBackend)
    for done, slab in enumerate(slabs):
        if cancel is not None:
            cancel.raise_if_cancelled(STAGE)
        target = volume[slab.z0 : slab.z1]
        if slab.row1 <= slab.row0:
            target[...] = 0.0
        else:
            job = SlabJob(
                geometry=geometry,
                line_integrals=scan.line_integrals,
                row0=slab.row0,
                row1=slab.row1,
                grid=slab.grid,
                truncation_correction=truncation,
                hann_cut_frequency=config.hann_cut_frequency,
                parker=kind == "short",
            )
            on_batch = reported.batch_callback(done)
            if prefiltered is not None:
                backend.backproject_slab(job, prefiltered.data[:, slab.row0 : slab.row1], target, progress=on_batch)
            elif batched:
                backend.reconstruct_slab(job, target, progress=on_batch)
            else:
                backend.reconstruct_slab(job, target)
        reported.slab_done(done)
    if hasattr(volume, "flush"):
        volume.flush()
    seconds = time.perf_counter() - started
    return ReconResult(
        volume=volume,
        mask=mask,
        grid=grid,
        backend=backend.name,
        seconds=seconds,
        interior=bool(interior),
        truncation_correction=truncation,
        short_scan=kind == "short",
        slabs=len(slabs),
        peak_slab_bytes=int(peak),
        warnings=warnings,
    )
