"""What an FDK of one scan onto one grid needs decided before any slab: scan kind, field-of-view mask, interior
flag, backend and whether pre-filtered projections are used. Shared by :func:`reconstruct` and the streamed
:class:`SlabReconstructor`, so both refuse the same input with the same messages."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline.acquisition.scan import Scan
from pipeline.errors import ReconstructionError
from pipeline.grid import VolumeGrid
from pipeline.reconstruct.backends import RTKBackend, make_backend
from pipeline.reconstruct.backends.base import PrefilteredBackend
from pipeline.reconstruct.checks import ScanKind, check_finite, is_truncated, scan_kind
from pipeline.reconstruct.config import ReconConfig
from pipeline.reconstruct.filtered import FilteredProjections
from pipeline.reconstruct.mask import reconstruction_mask


@dataclass
class FdkSetup:
    """The decisions of :func:`prepare_fdk`; ``warnings`` start with the scan's own."""

    kind: ScanKind
    mask: np.ndarray  # the grid's reconstructable region (bool, ``grid.shape_zyx``)
    interior: bool
    truncation_correction: float
    backend: object
    filtered: FilteredProjections | None  # used only by a backend that back-projects filtered projections
    warnings: list[str] = field(default_factory=list)


def prepare_fdk(
    scan: Scan,
    grid: VolumeGrid,
    config: ReconConfig,
    interior: bool | None = None,
    filtered: FilteredProjections | None = None,
) -> FdkSetup:
    """Check ``scan`` for FDK onto ``grid`` and choose how; raises :class:`ReconstructionError` on input FDK cannot
    use (non-finite values, too few angles, a grid outside the field of view)."""
    warnings = list(scan.warnings)
    geometry = scan.meta.geometry
    if filtered is None:
        check_finite(scan)
        kind = scan_kind(scan, config.short_scan)
    else:
        filtered.check_matches(scan, config, interior)
        kind = "short" if filtered.short_scan else "full"
        interior = filtered.interior
    if kind == "short":
        warnings.append(f"short scan ({geometry.angular_coverage_deg():.1f} deg): Parker weighting applied")
    mask = reconstruction_mask(scan.meta, grid)
    if not mask.any():
        raise ReconstructionError(
            f"grid centred at {grid.centre_mm} mm ({grid.size_mm} mm) does not intersect the field of view "
            f"(radius {geometry.field_of_view_radius_mm():.3f} mm, height {geometry.field_of_view_height_mm():.3f} mm)"
        )
    outside = 1.0 - float(mask.mean())
    if outside > 0:
        warnings.append(f"{100 * outside:.1f} % of the grid lies outside the reconstructable region (masked)")
    interior = bool(is_truncated(scan, config.truncation_threshold) if interior is None else interior)
    backend = make_backend(config.backend, config.cpu_threads)
    reason = backend.supports(grid)
    if reason is not None:
        warnings.append(f"{backend.name} not used: {reason}; using rtk")
        backend = RTKBackend()
    used = filtered if isinstance(backend, PrefilteredBackend) else None
    if filtered is not None and used is None:
        warnings.append(f"filtered projections not used: the {backend.name} backend filters them itself")
    return FdkSetup(
        kind=kind,
        mask=mask,
        interior=interior,
        truncation_correction=config.truncation_correction if interior else 0.0,
        backend=backend,
        filtered=used,
        warnings=warnings,
    )
