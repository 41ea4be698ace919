"""PSNR and SSIM inside a mask (scikit-image does the SSIM map)."""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity


def data_range(reference: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Intensity range of ``reference`` inside ``mask`` (the PSNR/SSIM scale)."""
    values = reference[mask] if mask is not None else reference
    span = float(np.max(values) - np.min(values)) if values.size else 0.0
    return span if span > 0 else 1.0


def psnr_db(estimate: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None, value_range: float | None = None) -> float:
    """Peak signal-to-noise ratio (dB) of ``estimate`` against ``reference`` inside ``mask``."""
    rng = value_range if value_range is not None else data_range(reference, mask)
    diff = (np.asarray(estimate, np.float64) - np.asarray(reference, np.float64))
    mse = float(np.mean(diff[mask] ** 2 if mask is not None else diff**2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(rng**2 / mse))


def ssim(estimate: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None, value_range: float | None = None) -> float:
    """Mean structural similarity inside ``mask`` (2D per slice for thin stacks, else 3D)."""
    rng = value_range if value_range is not None else data_range(reference, mask)
    est = np.asarray(estimate, np.float64)
    ref = np.asarray(reference, np.float64)
    if ref.ndim == 3 and min(ref.shape) < 7:
        maps = [structural_similarity(e, r, data_range=rng, full=True)[1] for e, r in zip(est, ref)]
        smap = np.stack(maps)
    else:
        smap = structural_similarity(est, ref, data_range=rng, full=True)[1]
    return float(np.mean(smap[mask] if mask is not None else smap))
