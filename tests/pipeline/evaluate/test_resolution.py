from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from pipeline.evaluate.resolution import FWHM_PER_SIGMA, effective_resolution_mm, fit_gaussian_blur


@pytest.mark.parametrize("sigma_px", [0.8, 1.5, 3.0])
def test_recovers_known_blur_with_gain_and_offset(textured_volume: np.ndarray, sigma_px: float) -> None:
    image = 2.5 * ndimage.gaussian_filter(textured_volume, sigma_px, mode="nearest") - 0.3
    mask = np.zeros(textured_volume.shape, dtype=bool)
    mask[6:26, 6:26, 6:26] = True
    fwhm = effective_resolution_mm(image, textured_volume, mask, voxel_mm=0.01)
    assert fwhm == pytest.approx(FWHM_PER_SIGMA * sigma_px * 0.01, rel=0.03)
    fit = fit_gaussian_blur(image, textured_volume, mask)
    assert fit.gain == pytest.approx(2.5, rel=0.02)
    assert fit.offset == pytest.approx(-0.3, abs=0.02)


def test_sharp_image_has_zero_extra_blur(textured_volume: np.ndarray) -> None:
    assert effective_resolution_mm(textured_volume, textured_volume, None, voxel_mm=0.01) == pytest.approx(
        0.0, abs=1e-4
    )


def test_noise_does_not_pretend_blur(textured_volume: np.ndarray) -> None:
    rng = np.random.default_rng(3)
    image = ndimage.gaussian_filter(textured_volume, 2.0, mode="nearest") + rng.normal(0, 0.02, textured_volume.shape)
    assert effective_resolution_mm(image, textured_volume, None, voxel_mm=1.0) == pytest.approx(
        FWHM_PER_SIGMA * 2.0, rel=0.08
    )
