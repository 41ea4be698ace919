"""Checks on a scan before FDK: angular coverage, finite values, truncation (interior scans)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.ndimage import median_filter

from pipeline.acquisition.scan import Scan
from pipeline.errors import ReconstructionError

ScanKind = Literal["full", "short"]
_SAMPLED_ANGLES = 32
_EDGE_COLUMNS = 2


def scan_kind(scan: Scan, short_scan: Literal["parker", "error"] = "parker") -> ScanKind:
    """``full`` (a turn), ``short`` (180 deg + fan angle, needs Parker weighting), or an error."""
    geometry = scan.meta.geometry
    coverage = geometry.angular_coverage_deg()
    step = float(np.median(np.abs(np.diff(np.sort(geometry.angles()))))) if geometry.n_angles > 1 else 360.0
    if coverage >= 360.0 - 0.5 * step:
        return "full"
    needed = 180.0 + 2.0 * geometry.fan_half_angle_deg()
    if coverage < needed - 1e-6:
        raise ReconstructionError(
            f"angles cover {coverage:.1f} deg, FDK needs at least 180 deg + fan angle = {needed:.1f} deg",
            {"coverage_deg": coverage, "needed_deg": needed},
        )
    if short_scan == "error":
        raise ReconstructionError(
            f"short scan ({coverage:.1f} deg of 360) and short_scan='error' in the config",
            {"coverage_deg": coverage},
        )
    return "short"


def check_finite(scan: Scan) -> None:
    """Raise if any projection value is NaN or infinite, saying how many and in how many projections."""
    bad_per_angle = np.array([np.count_nonzero(~np.isfinite(p)) for p in scan.line_integrals])
    n_bad = int(bad_per_angle.sum())
    if n_bad:
        angles = np.flatnonzero(bad_per_angle)
        raise ReconstructionError(
            f"{n_bad} non-finite projection values in {angles.size} of {bad_per_angle.size} projections "
            f"(first at projection {int(angles[0])})",
            {"non_finite_values": n_bad, "projections_affected": int(angles.size)},
        )


def edge_level(line_integrals: np.ndarray) -> tuple[float, float]:
    """(edge, object) line-integral levels on a sample of projections.

    ``edge`` is the 75th percentile over sampled angles of the larger of the left
    and right edge columns' high rows (90th percentile over rows, after a 5-row
    median against noise); ``object`` the 99.5th percentile of all sampled values.
    """
    n_angles = line_integrals.shape[0]
    picks = np.unique(np.linspace(0, n_angles - 1, min(n_angles, _SAMPLED_ANGLES)).round().astype(int))
    sample = np.asarray(line_integrals[picks], dtype=np.float32)
    left = sample[:, :, :_EDGE_COLUMNS].mean(axis=2)
    right = sample[:, :, -_EDGE_COLUMNS:].mean(axis=2)
    size = (1, min(5, sample.shape[1]))
    edges = np.maximum(
        np.percentile(median_filter(left, size=size), 90, axis=1),
        np.percentile(median_filter(right, size=size), 90, axis=1),
    )
    return float(np.percentile(edges, 75)), float(np.percentile(sample, 99.5))


def is_truncated(scan: Scan, threshold: float = 0.05) -> bool:
    """Whether the object extends past the detector's left/right edges (an interior scan)."""
    edge, level = edge_level(scan.line_integrals)
    return level > 0 and edge > threshold * level
