"""Preview PNGs: the same slices of scout (cubic), recovered and zoom side by side; the loss curve.

A person checks a result faster by looking than by reading figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.atomic import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _limits(images: Sequence[np.ndarray]) -> tuple[float, float]:
    reference = images[-1]
    lo, hi = np.percentile(reference[np.isfinite(reference)], [0.5, 99.5])
    return float(lo), float(hi if hi > lo else lo + 1.0)


def side_by_side(path: Path, images: Sequence[np.ndarray], titles: Sequence[str], suptitle: str) -> None:
    """One row of equally scaled grey images (display range from the last, the zoom)."""
    plt = _pyplot()
    lo, hi = _limits(images)
    fig, axes = plt.subplots(1, len(images), figsize=(4 * len(images), 4.3), squeeze=False)
    for axis, image, title in zip(axes[0], images, titles):
        axis.imshow(image, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
        axis.set_title(title)
        axis.set_axis_off()
    fig.suptitle(suptitle)
    fig.tight_layout()
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
