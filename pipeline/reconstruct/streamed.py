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
from pipeline.reconstruct.backends import RTKBackend, SlabJob, make_backend
from pipeline.reconstruct.backends.base import PrefilteredBackend
from pipeline.reconstruct.checks import check_finite, is_truncated, scan_kind
from pipeline.reconstruct.config import ReconConfig
from pipeline.reconstruct.filtered import FilteredProjections
from pipeline.reconstruct.mask import reconstruction_mask
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
        self.warnings = list(scan.warnings)
        geometry = scan.meta.geometry
        if filtered is None:
            check_finite(scan)
            kind = scan_kind(scan, config.short_scan)
        else:
            filtered.check_matches(scan, config, interior)
            kind = "short" if filtered.short_scan else "full"
            interior = filtered.interior
        self.short_scan = kind == "short"
        if self.short_scan:
            self.warnings.append(f"short scan ({geometry.angular_coverage_deg():.1f} deg): Parker weighting applied")
        self.mask = reconstruction_mask(scan.meta, grid)
        if not self.mask.any():
            raise ReconstructionError(
                f"grid centred at {grid.centre_mm} mm ({grid.size_mm} mm) does not intersect the field of view "
                f"(radius {geometry.field_of_view_radius_mm():.3f} mm, "
                f"height {geometry.field_of_view_height_mm():.3f} mm)"
            )
        self.interior = bool(is_truncated(scan, config.truncation_threshold) if interior is None else interior)
        self.truncation_correction = config.truncation_correction if self.interior else 0.0
        backend = make_backend(config.backend, config.cpu_threads)
        reason = backend.supports(grid)
        if reason is not None:
            self.warnings.append(f"{backend.name} not used: {reason}; using rtk")
            backend = RTKBackend()
        self.backend = backend
        self.filtered = filtered if isinstance(backend, PrefilteredBackend) else None
        if filtered is not None and self.filtered is None:
            self.warnings.append(f"filtered projections not used: the {backend.name} backend filters them itself")
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
