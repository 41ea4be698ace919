"""PSNR and SSIM inside a mask: the one implementation every figure in the project uses.

Training's validation, the model cache's validation, ``report.json``'s quality
and trust figures and the benchmarks all call these, so a threshold compares
like with like. The dynamic range is the reference's range *inside the mask*,
so air or the region outside the reconstructable field of view does not
inflate the figures. SSIM is scikit-image's with a Gaussian window (sigma 1.5
voxels, population covariance: Wang et al. 2004); a volume thinner than the
window along one axis (a held-out slab) gets 2D SSIM slice by slice along it.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity

SSIM_SIGMA_PX = 1.5
# skimage's Gaussian SSIM window: 2 * int(3.5 * sigma + 0.5) + 1 voxels.
SSIM_WINDOW_PX = 2 * int(3.5 * SSIM_SIGMA_PX + 0.5) + 1


def checked_mask(image: np.ndarray, reference: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """The boolean mask (all-True when None) after checking that shapes agree and the mask is not empty."""
    if image.shape != reference.shape:
        raise ValueError(f"image and reference shapes differ (got {image.shape} and {reference.shape})")
    if mask is None:
        return np.ones(reference.shape, dtype=bool)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != reference.shape:
        raise ValueError(f"mask shape must match the volumes (got {mask.shape}, volumes {reference.shape})")
    if not mask.any():
        raise ValueError("mask is empty")
    return mask


def data_range(reference: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Max minus min of ``reference`` inside ``mask`` (1.0 for a constant or empty reference)."""
    values = np.asarray(reference)[mask] if mask is not None else np.asarray(reference)
    span = float(np.max(values) - np.min(values)) if values.size else 0.0
    return span if span > 0 else 1.0


def psnr_db(
    image: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None, value_range: float | None = None
) -> float:
    """Peak signal-to-noise ratio (dB) of ``image`` against ``reference`` inside ``mask``.

    ``value_range`` defaults to :func:`data_range` of the reference inside the mask; ``inf`` when identical.
    """
    mask = checked_mask(image, reference, mask)
    ref = np.asarray(reference, np.float64)[mask]
    img = np.asarray(image, np.float64)[mask]
    mse = float(np.mean((img - ref) ** 2))
    if mse == 0.0:
        return float("inf")
    span = value_range if value_range is not None else data_range(ref)
    return float(10.0 * np.log10(span**2 / mse))


def ssim_map(image: np.ndarray, reference: np.ndarray, value_range: float) -> np.ndarray:
    """Per-voxel SSIM of two same-shape volumes (see the module docstring for the window and thin axes)."""
    thin = [axis for axis, n in enumerate(reference.shape) if n < SSIM_WINDOW_PX]
    if len(thin) > 1 or (thin and reference.ndim < 3):
        raise ValueError(f"SSIM needs at least two axes >= {SSIM_WINDOW_PX} voxels (got shape {reference.shape})")
    if thin:
        axis = thin[0]
        maps = [
            ssim_map(np.take(image, i, axis), np.take(reference, i, axis), value_range)
            for i in range(reference.shape[axis])
        ]
        return np.stack(maps, axis=axis)
    _, full = structural_similarity(
        np.asarray(reference, np.float64),
        np.asarray(image, np.float64),
        data_range=value_range,
        gaussian_weights=True,
        sigma=SSIM_SIGMA_PX,
        use_sample_covariance=False,
        full=True,
    )
    return full


def ssim(
    image: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None, value_range: float | None = None
) -> float:
    """Mean SSIM inside ``mask`` (``value_range`` defaults to the reference's range inside the mask)."""
    mask = checked_mask(image, reference, mask)
    span = value_range if value_range is not None else data_range(reference, mask)
    return float(np.mean(ssim_map(image, reference, span)[mask]))
