"""Projections weighted and ramp-filtered once per scan, shared by every grid reconstructed from it.

FDK's filtering depends on the scan alone (geometry, truncation correction,
Hann window, Parker weights), never on the grid, so the scout's box, its
native field of view, the registered zoom grid and the output region can all
be back-projected from one :class:`FilteredProjections` (numba backend). The
result is the same volume as filtering per grid.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from pipeline.acquisition.contract import Geometry
from pipeline.acquisition.scan import Scan
from pipeline.errors import ReconstructionError
from pipeline.reconstruct.checks import check_finite, is_truncated, scan_kind
from pipeline.reconstruct.config import ReconConfig
from pipeline.reconstruct.fdk_filter import filter_projections


@dataclass(frozen=True)
class FilteredProjections:
    """A scan's FDK-filtered projections (float32 ``[angle, row, column]``) and the settings they were made with."""

    geometry: Geometry
    data: np.ndarray
    interior: bool
    truncation_correction: float
    hann_cut_frequency: float
    short_scan: bool
    seconds: float

    def check_matches(self, scan: Scan, config: ReconConfig, interior: bool | None) -> None:
        """Raise if these were not filtered from ``scan``'s geometry with ``config``'s filter settings."""
        problems = []
        if self.geometry != scan.meta.geometry:
            problems.append("another scan geometry")
        if self.data.shape != scan.line_integrals.shape:
            problems.append(f"shape {self.data.shape} vs the scan's {scan.line_integrals.shape}")
        if self.hann_cut_frequency != config.hann_cut_frequency:
            problems.append(f"Hann cut {self.hann_cut_frequency} vs {config.hann_cut_frequency}")
        if interior is not None and interior != self.interior:
            problems.append(f"interior={self.interior} vs interior={interior} asked")
        expected_tc = config.truncation_correction if self.interior else 0.0
        if self.truncation_correction != expected_tc:
            problems.append(f"truncation correction {self.truncation_correction} vs {expected_tc}")
        if problems:
            raise ReconstructionError("filtered projections do not fit this reconstruction: " + "; ".join(problems))


def filter_scan(
    scan: Scan, config: ReconConfig = ReconConfig(), *, interior: bool | None = None, out: np.ndarray | None = None
) -> FilteredProjections:
    """Weight and ramp-filter all of ``scan``'s projections once (``out``: float32 array or memory map to fill).

    ``interior=None`` detects truncation as :func:`pipeline.reconstruct.reconstruct` does.
    Raises :class:`ReconstructionError` on projections FDK cannot use.
    """
    started = time.perf_counter()
    check_finite(scan)
    kind = scan_kind(scan, config.short_scan)
    if interior is None:
        interior = is_truncated(scan, config.truncation_threshold)
    truncation = config.truncation_correction if interior else 0.0
    data = filter_projections(
        scan.meta.geometry,
        scan.line_integrals,
        truncation_correction=truncation,
        hann_cut_frequency=config.hann_cut_frequency,
        parker=kind == "short",
        out=out,
    )
    return FilteredProjections(
        geometry=scan.meta.geometry,
        data=data,
        interior=bool(interior),
        truncation_correction=truncation,
        hann_cut_frequency=config.hann_cut_frequency,
        short_scan=kind == "short",
        seconds=time.perf_counter() - started,
    )
