"""What every slice figure shares (preview PNGs and ``report.html``): panel labels, one grey window, scale bars.

A reader compares panels by eye, so they must agree: the same words for the
same volume in every figure, one display range for all panels of a figure
(from the zoom, the reference), and a scale bar of a round length on each.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

BEFORE = "before: cubic upsampling of the scout"
AFTER = "after: recovered"
REFERENCE = "zoom (reference)"
TRIO_LABELS = (BEFORE, AFTER, REFERENCE)
BAR_SHARE = 0.2  # a scale bar spans about this share of a panel's width


@dataclass(frozen=True)
class ScaleBar:
    """A scale bar: its length (µm), the same in pixels of the panel, and its label (``100 µm``, ``2 mm``)."""

    length_um: float
    length_px: float
    label: str


def grey_window(images: Sequence[np.ndarray]) -> tuple[float, float]:
    """One display range for every panel: 0.5-99.5 percentiles of the reference images' finite values."""
    values = np.concatenate([np.asarray(image, dtype=np.float64)[np.isfinite(image)].ravel() for image in images])
    if values.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(values, [0.5, 99.5])
    return float(lo), float(hi if hi > lo else lo + 1.0)


def scale_bar_um(width_px: int, voxel_mm: float) -> float:
    """A round length (1, 2 or 5 x 10^k µm) near ``BAR_SHARE`` of the panel width."""
    target = max(width_px * voxel_mm * 1000.0 * BAR_SHARE, 1e-6)
    power = 10 ** math.floor(math.log10(target))
    return float(max((m * power for m in (1, 2, 5, 10) if m * power <= target), default=power))


def scale_bar(width_px: int, voxel_mm: float) -> ScaleBar:
    """The bar for a panel ``width_px`` voxels wide, voxels of ``voxel_mm``: round length, pixels, label."""
    length_um = scale_bar_um(width_px, voxel_mm)
    label = f"{length_um:g} µm" if length_um < 1000 else f"{length_um / 1000:g} mm"
    return ScaleBar(length_um=length_um, length_px=length_um / (voxel_mm * 1000.0), label=label)


def draw_scale_bar(axis: Any, shape: tuple[int, ...], voxel_mm: float) -> ScaleBar:
    """Draw the bar in the lower left of an image panel (white on black, readable on any grey); returns it."""
    height, width = shape[:2]
    bar = scale_bar(width, voxel_mm)
    x0, y0 = 0.05 * width, 0.93 * height
    axis.plot([x0, x0 + bar.length_px], [y0, y0], color="white", linewidth=4, solid_capstyle="butt")
    axis.plot([x0, x0 + bar.length_px], [y0, y0], color="black", linewidth=1, solid_capstyle="butt")
    axis.text(
        x0,
        y0 - 0.03 * height,
        bar.label,
        color="white",
        fontsize=9,
        va="bottom",
        bbox={"facecolor": "black", "alpha": 0.5, "pad": 1, "linewidth": 0},
    )
    return bar
