"""FDK of one scan onto z ranges of one grid, on demand (the output region streamed into inference).

:func:`pipeline.reconstruct.reconstruct` fills a whole grid at once. A
:class:`SlabReconstructor` makes the same set-up once (checks, scan kind,
truncation, backend, the reconstructable-region mask, filtered projections)
and then reconstructs any ``[z0, z1)`` of the grid when asked, within the
memory budget, so a consumer holds only the slices it needs. FDK is
voxel-driven: a voxel's value does not depend on the slab it is computed in,
so the slices equal the whole-grid reconstruction's up to float rounding of the
sub-grid's centre.
"""

from __future__ import annotations

import time

import numpy as np

from pipeline.acquisition.scan import Scan
from pipeline.errors import ReconstructionError
from pipeline.grid import VolumeGrid
from pipeline.reconstruct.backends import SlabJob
from pipeline.reconstruct.config import ReconConfig
from pipeline.reconstruct.filtered import FilteredProjections
from pipeline.reconstruct.setup import prepare_fdk
from pipeline.reconstruct.slabs import plan_slabs

_GB = 1024**3


class SlabReconstructor:
    """FDK of ``scan`` onto slices of ``grid`` (scan frame, mm) on demand; ``mask`` is the whole grid's
    reconstructable region (bool). ``seconds`` (wall s), ``slabs`` and ``voxels`` add up over :meth:`fill` calls.
    Raises :class:`ReconstructionError` on input FDK cannot use, as :func:`reconstruct` does."""

    def __init__(
        self,
        scan: Scan,
        grid: VolumeGrid,
        config: ReconConfig = ReconConfig(),
        *,
        interior: bool | None = None,
        filtered: FilteredProjections | None = None,
    ) -> None:
        started = time.perf_counter()
        self.scan, self.grid, self.config = scan, grid, config
        setup = prepare_fdk(scan, grid, config, interior, filtered)
        self.warnings = setup.warnings
        self.short_scan = setup.kind == "short"
        self.mask = setup.mask
        self.interior = setup.interior
        self.truncation_correction = setup.truncation_correction
        self.backend = setup.backend
        self.filtered = setup.filtered
        self.seconds = time.perf_counter() - started
        self.slabs = 0
        self.voxels = 0
        self.peak_slab_bytes = 0

    def fill(self, z0: int, z1: int, out: np.ndarray) -> None:
        """FDK of the grid's slices ``[z0, z1)`` into ``out`` (float32 ``[z1 - z0, y, x]``), in slabs within
        ``config.memory_budget_gb``."""
        started = time.perf_counter()
        geometry = self.scan.meta.geometry
        sub = self.grid.sub_grid(z0, z1)
        if out.shape != sub.shape_zyx or out.dtype != np.float32:
            raise ReconstructionError(f"out array is {out.dtype}{out.shape}, need float32{sub.shape_zyx}")
        slabs, peak = plan_slabs(geometry, sub, self.config.memory_budget_gb * _GB, parker=self.short_scan)
        for slab in slabs:
            target = out[slab.z0 : slab.z1]
            if slab.row1 <= slab.row0:
                target[...] = 0.0
                continue
            job = SlabJob(
                geometry=geometry,
                line_integrals=self.scan.line_integrals,
                row0=slab.row0,
                row1=slab.row1,
                grid=slab.grid,
                truncation_correction=self.truncation_correction,
                hann_cut_frequency=self.config.hann_cut_frequency,
                parker=self.short_scan,
            )
            if self.filtered is not None:
                self.backend.backproject_slab(job, self.filtered.data[:, slab.row0 : slab.row1], target)  # type: ignore[attr-defined]
            else:
                self.backend.reconstruct_slab(job, target)
        self.slabs += len(slabs)
        self.voxels += sub.n_voxels
        self.peak_slab_bytes = max(self.peak_slab_bytes, int(peak))
        self.seconds += time.perf_counter() - started
