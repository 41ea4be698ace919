"""Preview PNGs: the same slices of scout (cubic), recovered and zoom side by side; the loss curve.

A person checks a result faster by looking than by reading figures. Image
panels share their labels, grey window and scale bars with ``report.html``
(:mod:`pipeline.output.panels`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.atomic import atomic_path
from pipeline.output.panels import draw_scale_bar, grey_window


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def preview_figure(
    images: Sequence[np.ndarray],
    titles: Sequence[str],
    suptitle: str,
    voxel_mm: float,
    window: tuple[float, float] | None = None,
) -> Any:
    """One row of grey panels, one display range for all (``window``, else the last image's, the reference),
    each with a scale bar for voxels of ``voxel_mm``; returns the matplotlib figure."""
    plt = _pyplot()
    lo, hi = window if window is not None else grey_window(images[-1:])
    fig, axes = plt.subplots(1, len(images), figsize=(4 * len(images), 4.3), squeeze=False)
    for axis, image, title in zip(axes[0], images, titles, strict=True):
        axis.imshow(image, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
        draw_scale_bar(axis, image.shape, voxel_mm)
        axis.set_title(title, fontsize=10)
        axis.set_axis_off()
    fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def side_by_side(
    path: Path,
    images: Sequence[np.ndarray],
    titles: Sequence[str],
    suptitle: str,
    voxel_mm: float,
    window: tuple[float, float] | None = None,
) -> None:
    """:func:`preview_figure` written as a PNG (atomically)."""
    plt = _pyplot()
    fig = preview_figure(images, titles, suptitle, voxel_mm, window)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def loss_curve(
    path: Path, iterations: Sequence[int], train: Sequence[float], validation: Sequence[float | None]
) -> None:
    """Training and validation loss against iteration (log scale)."""
    plt = _pyplot()
    fig, axis = plt.subplots(figsize=(6, 4))
    axis.plot(iterations, train, label="training")
    points = [(i, v) for i, v in zip(iterations, validation) if v is not None]
    if points:
        axis.plot([p[0] for p in points], [p[1] for p in points], "o-", label="validation (held-out slab)")
    axis.set_yscale("log")
    axis.set_xlabel("iteration")
    axis.set_ylabel("loss")
    axis.legend()
    axis.grid(True, alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
