"""Detector model: beam profile, Gaussian PSF, Poisson counts, dark offset, read noise.

Order follows the physics: the exact transmission is blurred by the detector
PSF (on intensity, not on line integrals), scaled by the beam's flat-field
profile and photon count, Poisson-sampled, then a dark offset with Gaussian
read noise is added and the result rounded to uint16.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import gaussian_filter

from pipeline.simulate.config import ScanSettings, SimulationConfig

UINT16_MAX = 65535


def blur_pad_px(settings: ScanSettings) -> int:
    """Detector margin to simulate so the PSF sees real data at the borders."""
    return 0 if settings.blur_sigma_px == 0 else int(math.ceil(4.0 * settings.blur_sigma_px)) + 1


def beam_profile(rows: int, cols: int, falloff: float) -> np.ndarray:
    """Relative flat-field intensity: 1 at the detector centre, ``1 - falloff`` at the corners (quadratic)."""
    v = (np.arange(rows) - (rows - 1) / 2.0) / max(rows / 2.0, 1.0)
    u = (np.arange(cols) - (cols - 1) / 2.0) / max(cols / 2.0, 1.0)
    radius2 = (v[:, None] ** 2 + u[None, :] ** 2) / 2.0
    return 1.0 - falloff * radius2


def blur(transmission: np.ndarray, settings: ScanSettings, pad_px: int) -> np.ndarray:
    """Apply the PSF to padded projections ``[angle, row, col]`` and crop the padding."""
    if settings.blur_sigma_px > 0:
        transmission = gaussian_filter(
            transmission, sigma=(0.0, settings.blur_sigma_px, settings.blur_sigma_px), mode="nearest"
        )
    if pad_px:
        transmission = transmission[:, pad_px:-pad_px, pad_px:-pad_px]
    return transmission


def _add_dark_and_round(counts: np.ndarray, config: SimulationConfig, rng: np.random.Generator) -> np.ndarray:
    values = counts + config.dark_counts
    if config.read_noise_counts > 0:
        values = values + rng.normal(0.0, config.read_noise_counts, size=values.shape)
    return np.clip(np.rint(values), 0, UINT16_MAX).astype(np.uint16)


def detect(
    transmission: np.ndarray,
    settings: ScanSettings,
    config: SimulationConfig,
    profile: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Noisy uint16 intensities from blurred transmission ``[angle, row, col]`` (already cropped)."""
    expected = settings.photons * profile[None, :, :] * transmission
    return _add_dark_and_round(rng.poisson(expected).astype(np.float64), config, rng)


def flat_and_dark(
    settings: ScanSettings, config: SimulationConfig, profile: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Flat and dark frames as the scanner would record them.

    ``flat_frames > 0``: that many noisy uint16 pages each (the reader averages
    them; their residual noise gives the faint rings real scans have).
    ``flat_frames == 0``: one noiseless float32 page each.
    """
    if config.flat_frames == 0:
        flat = (settings.photons * profile + config.dark_counts).astype(np.float32)[None]
        dark = np.full_like(flat, config.dark_counts, dtype=np.float32)
        return flat, dark
    shape = (config.flat_frames, *profile.shape)
    flat = _add_dark_and_round(
        rng.poisson(np.broadcast_to(settings.photons * profile, shape)).astype(np.float64), config, rng
    )
    dark = _add_dark_and_round(np.zeros(shape), config, rng)
    return flat, dark
