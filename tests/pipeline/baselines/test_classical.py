"""Upsampling, PSF estimation and Richardson-Lucy on small synthetic volumes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from pipeline.baselines.psf import estimate_psf_sigma
from pipeline.baselines.richardson_lucy import gaussian_transfer, richardson_lucy
from pipeline.baselines.upsample import upsample_to_grid
from pipeline.grid import VolumeGrid


def blobs(shape=(32, 48, 48), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter((rng.random(shape) > 0.8).astype(np.float64), 1.0)


@pytest.mark.parametrize("method", ["trilinear", "cubic"])
def test_upsampling_reproduces_a_linear_ramp(method):
    coarse_grid = VolumeGrid.isotropic((16, 18, 20), 0.03, centre_mm=(0.1, -0.05, 0.02))
    fine_grid = VolumeGrid.isotropic((18, 21, 24), 0.01, centre_mm=(0.1, -0.05, 0.02))
    ramp = lambda xyz: 2.0 * xyz[..., 0] - 3.0 * xyz[..., 1] + 0.5 * xyz[..., 2]  # noqa: E731
    coarse = ramp(coarse_grid.voxel_centres())
    fine = upsample_to_grid(coarse, coarse_grid, fine_grid, method)
    np.testing.assert_allclose(fine, ramp(fine_grid.voxel_centres()), atol=1e-4)  # spline edge conditions decay inward


def test_upsampling_refuses_a_volume_that_is_not_on_its_grid():
    with pytest.raises(ValueError, match="grid"):
        upsample_to_grid(
            np.zeros((4, 4, 4)), VolumeGrid.isotropic((4, 4, 5), 1.0), VolumeGrid.isotropic((8, 8, 8), 0.5)
        )


@pytest.mark.parametrize("sigma", [0.8, 1.5, 2.5])
def test_psf_sigma_is_recovered_with_gain_offset_and_noise(sigma):
    zoom = blobs()
    rng = np.random.default_rng(1)
    scout = 3.0 * ndimage.gaussian_filter(zoom, sigma) - 0.2 + rng.normal(0, 0.002, zoom.shape)
    estimate = estimate_psf_sigma(scout, zoom, np.ones(zoom.shape, bool))
    assert estimate == pytest.approx(sigma, rel=0.05)


def test_transfer_function_is_the_gaussian_filter():
    x = blobs((16, 20, 24))
    from scipy import fft

    via_fft = fft.irfftn(fft.rfftn(x) * gaussian_transfer(x.shape, 1.3), s=x.shape)
    np.testing.assert_allclose(via_fft, ndimage.gaussian_filter(x, 1.3, mode="wrap", truncate=8), atol=2e-5)


def test_richardson_lucy_sharpens_and_handles_negative_values():
    truth = blobs() - 0.3  # negative values: RL must shift them
    blurred = ndimage.gaussian_filter(truth, 1.5, mode="reflect")
    restored = richardson_lucy(blurred, 1.5, iterations=30)
    assert restored.shape == truth.shape and restored.dtype == np.float32
    err_in = np.mean((blurred - truth) ** 2)
    err_out = np.mean((restored - truth) ** 2)
    assert err_out < 0.7 * err_in
    edge = (slice(0, 3), slice(None), slice(None))  # no ringing at the volume edges
    assert np.mean((restored[edge] - truth[edge]) ** 2) < np.mean((blurred[edge] - truth[edge]) ** 2)
