"""Calibrate the zoom's intensities against the scout before training.

An interior (zoom) scan has truncated projections; even with the ramp
filter's truncation correction its reconstruction carries a smooth bias
(offset and cupping of several per cent to tens of per cent, depending on how
much wider than the field of view the sample is). The scout sees the whole
sample, so its low spatial frequencies are right. We replace the zoom's low
frequencies by the scout's: ``zoom + G_sigma * (scout - zoom)``, with a
normalised (masked) Gaussian so the field-of-view edge does not leak in.
``sigma`` is several scout voxels, where the scout's blur no longer matters,
so no scout blur is transferred into the zoom. Without this the network
learns the zoom's bias and paints it over the whole output.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.ndimage import gaussian_filter


class CalibrationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    sigma_scout_voxels: float = Field(
        4.0, gt=0, description="Gaussian sigma of the low-pass correction, in scout voxels"
    )


class CalibrationFigures(BaseModel):
    """How much the zoom was corrected (attenuation units of the volumes, 1/mm)."""

    sigma_zoom_voxels: float
    mean_offset_before: float = Field(description="mean of (zoom - scout) inside the mask before calibration")
    mean_offset_after: float
    max_abs_correction: float
    relative_correction: float = Field(description="RMS correction / RMS of the scout inside the mask")


def masked_lowpass(volume: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian low-pass of ``volume`` using only voxels in ``mask`` (normalised convolution)."""
    weights = gaussian_filter(mask.astype(np.float32), sigma, mode="nearest")
    values = gaussian_filter(np.where(mask, volume, 0).astype(np.float32), sigma, mode="nearest")
    return values / np.maximum(weights, 1e-6)


def calibrate_zoom(
    zoom: np.ndarray, scout_on_zoom_grid: np.ndarray, mask: np.ndarray, ratio: float, config: CalibrationConfig
) -> tuple[np.ndarray, CalibrationFigures]:
    """The zoom with the scout's low frequencies, and figures saying how large the change was."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        raise ValueError("calibration mask is empty")
    sigma = config.sigma_scout_voxels * ratio
    difference = scout_on_zoom_grid.astype(np.float32) - zoom.astype(np.float32)
    correction = masked_lowpass(difference, mask, sigma)
    calibrated = (zoom + correction).astype(np.float32)
    scout_rms = float(np.sqrt(np.mean(scout_on_zoom_grid[mask].astype(np.float64) ** 2))) or 1.0
    figures = CalibrationFigures(
        sigma_zoom_voxels=sigma,
        mean_offset_before=float(-difference[mask].mean()),
        mean_offset_after=float((calibrated - scout_on_zoom_grid)[mask].mean()),
        max_abs_correction=float(np.abs(correction[mask]).max()),
        relative_correction=float(np.sqrt(np.mean(correction[mask].astype(np.float64) ** 2)) / scout_rms),
    )
    return calibrated, figures
