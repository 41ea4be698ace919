"""Effective resolution: the Gaussian blur that turns the reference into the image.

The image is modelled as ``gain * G_sigma(reference) + offset`` inside a mask;
``sigma`` (voxels) is found by bounded scalar least squares
(``scipy.optimize.minimize_scalar``), gain and offset by linear least squares
for each trial sigma. The result is reported as the Gaussian's FWHM in mm: the
resolution the image has *in addition to* the reference's own (0 when the
image is as sharp as the reference or sharper). Applied to a cubic-upsampled
scout it estimates the scout's point-spread function on the zoom grid; the
same fit is reused by the scout-consistency check of the trust report.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy import ndimage
from scipy.optimize import minimize_scalar

FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


class GaussianFit(BaseModel):
    """``image ~= gain * G_sigma(reference) + offset`` inside the mask."""

    model_config = ConfigDict(frozen=True)

    sigma_px: float
    gain: float
    offset: float
    residual_rms: float
    explained: float = 1.0  # share of the image's variance inside the mask that the model explains (R^2, <= 1)

    def fwhm_mm(self, voxel_mm: float) -> float:
        return FWHM_PER_SIGMA * self.sigma_px * voxel_mm

    def apply(self, volume: np.ndarray) -> np.ndarray:
        """The model applied to ``volume`` (e.g. a recovered volume blurred back to scout resolution)."""
        return self.gain * blur(volume, self.sigma_px) + self.offset


def blur(volume: np.ndarray, sigma_px: float) -> np.ndarray:
    """3D Gaussian blur (``sigma_px`` voxels; identity at 0)."""
    volume = volume.astype(np.float64, copy=False)
    return volume if sigma_px <= 1e-6 else ndimage.gaussian_filter(volume, sigma_px, mode="nearest")


def _crop_to_mask(mask: np.ndarray, margin_px: int) -> tuple[slice, ...]:
    """Bounding box of ``mask`` grown by ``margin_px`` (speeds up the fit on large volumes)."""
    bounds = ndimage.find_objects(mask.astype(np.uint8))[0]
    return tuple(slice(max(0, b.start - margin_px), min(n, b.stop + margin_px)) for b, n in zip(bounds, mask.shape))


def _linear_fit(blurred: np.ndarray, target: np.ndarray) -> tuple[float, float, float]:
    """Gain, offset and residual RMS of ``target ~= gain * blurred + offset``."""
    design = np.stack([blurred, np.ones_like(blurred)], axis=1)
    (gain, offset), *_ = np.linalg.lstsq(design, target, rcond=None)
    residual = target - (gain * blurred + offset)
    return float(gain), float(offset), float(np.sqrt(np.mean(residual**2)))


def fit_gaussian_blur(
    image: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None, max_sigma_px: float = 8.0
) -> GaussianFit:
    """Least-squares Gaussian blur, gain and offset mapping ``reference`` onto ``image`` inside ``mask``."""
    if image.shape != reference.shape:
        raise ValueError(f"image and reference shapes differ (got {image.shape} and {reference.shape})")
    mask = np.ones(image.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if not mask.any():
        raise ValueError("mask is empty")
    box = _crop_to_mask(mask, int(math.ceil(4 * max_sigma_px)))
    ref, inside = reference[box].astype(np.float64), mask[box]
    target = image[box][inside].astype(np.float64)

    def cost(sigma_px: float) -> float:
        return _linear_fit(blur(ref, sigma_px)[inside], target)[2]

    # Coarse scan first so the bounded search starts in the right basin.
    grid = np.concatenate([[0.0], np.geomspace(0.25, max_sigma_px, 12)])
    costs = [cost(s) for s in grid]
    best = int(np.argmin(costs))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    sigma = float(grid[best])
    if hi > lo:
        result = minimize_scalar(cost, bounds=(lo, hi), method="bounded", options={"xatol": 1e-3})
        if result.fun < costs[best]:
            sigma = float(result.x)
    gain, offset, rms = _linear_fit(blur(ref, sigma)[inside], target)
    spread = float(np.std(target))
    explained = 1.0 - (rms / spread) ** 2 if spread > 0.0 else 0.0
    return GaussianFit(sigma_px=sigma, gain=gain, offset=offset, residual_rms=rms, explained=explained)


def effective_resolution_mm(
    image: np.ndarray, reference: np.ndarray, mask: np.ndarray | None, voxel_mm: float, max_sigma_px: float = 8.0
) -> float:
    """FWHM (mm) of the 3D Gaussian that, applied to ``reference``, best fits ``image`` inside ``mask``."""
    return fit_gaussian_blur(image, reference, mask, max_sigma_px).fwhm_mm(voxel_mm)
