"""Estimate the scout's blur relative to the zoom: an isotropic Gaussian PSF, fitted by least squares."""

from __future__ import annotations

import numpy as np
from scipy import ndimage, optimize


def _fit_residual(blurred: np.ndarray, scout: np.ndarray) -> float:
    """Residual of the best ``scout ~ a * blurred + b`` (gain and offset solved in closed form)."""
    design = np.stack([blurred, np.ones_like(blurred)], axis=1)
    coefficients, *_ = np.linalg.lstsq(design, scout, rcond=None)
    return float(np.sum((design @ coefficients - scout) ** 2))


def estimate_psf_sigma(
    scout_on_zoom: np.ndarray,
    zoom: np.ndarray,
    mask: np.ndarray,
    *,
    bounds_vox: tuple[float, float] = (0.05, 12.0),
    max_voxels: int = 96**3,
) -> float:
    """Gaussian sigma (zoom voxels) such that ``gaussian(zoom, sigma)`` best matches the scout inside ``mask``.

    A centred crop of at most ``max_voxels`` is used so large volumes stay quick.
    """
    if scout_on_zoom.shape != zoom.shape:
        raise ValueError(f"scout and zoom must share a grid (got {scout_on_zoom.shape} and {zoom.shape})")
    mask = np.broadcast_to(np.asarray(mask, bool), zoom.shape)
    side = [min(n, max(8, int(round(max_voxels ** (1 / 3))))) for n in zoom.shape]
    box = tuple(slice((n - s) // 2, (n - s) // 2 + s) for n, s in zip(zoom.shape, side))
    scout_c = np.asarray(scout_on_zoom[box], np.float64)
    zoom_c = np.asarray(zoom[box], np.float64)
    mask_c = mask[box]
    if mask_c.sum() < 10:
        mask_c = np.ones_like(mask_c)
    target = scout_c[mask_c]

    def cost(sigma: float) -> float:
        return _fit_residual(ndimage.gaussian_filter(zoom_c, sigma, mode="reflect")[mask_c], target)

    result = optimize.minimize_scalar(cost, bounds=bounds_vox, method="bounded", options={"xatol": 1e-3})
    return float(result.x)
