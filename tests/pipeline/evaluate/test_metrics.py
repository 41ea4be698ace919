from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from pipeline.evaluate import metrics


def test_psnr_matches_definition_inside_mask(textured_volume: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    noisy = textured_volume + rng.normal(0, 0.05, textured_volume.shape)
    mask = np.zeros(textured_volume.shape, dtype=bool)
    mask[4:28, 4:28, 4:28] = True
    # Garbage outside the mask must not change the figure.
    noisy_outside = noisy.copy()
    noisy_outside[~mask] = 100.0
    ref = textured_volume[mask]
    expected = 10 * np.log10((ref.max() - ref.min()) ** 2 / np.mean((noisy[mask] - ref) ** 2))
    assert metrics.psnr_db(noisy_outside, textured_volume, mask) == pytest.approx(expected, rel=1e-9)


def test_psnr_identical_is_infinite(textured_volume: np.ndarray) -> None:
    assert metrics.psnr_db(textured_volume, textured_volume) == float("inf")


def test_ssim_ranks_blur_and_ignores_outside_mask(textured_volume: np.ndarray) -> None:
    mask = np.zeros(textured_volume.shape, dtype=bool)
    mask[8:24, 8:24, 8:24] = True
    slight = ndimage.gaussian_filter(textured_volume, 0.7)
    strong = ndimage.gaussian_filter(textured_volume, 2.0)
    assert metrics.ssim(textured_volume, textured_volume, mask) == pytest.approx(1.0)
    assert metrics.ssim(slight, textured_volume, mask) > metrics.ssim(strong, textured_volume, mask)
    spoiled = slight.copy()
    spoiled[0:2] = 0.0  # more than a window away from the mask
    assert metrics.ssim(spoiled, textured_volume, mask) == pytest.approx(metrics.ssim(slight, textured_volume, mask))


def test_ms_ssim_map_localises_a_defect(textured_volume: np.ndarray) -> None:
    defect = textured_volume.copy()
    defect[20:28, 20:28, 20:28] = textured_volume.mean()
    full = metrics.ms_ssim_map(defect, textured_volume, scales=2)
    assert full.shape == textured_volume.shape
    assert 0.0 <= full.min() and full.max() <= 1.0 + 1e-9
    assert full[22:26, 22:26, 22:26].max() < 0.7
    assert full[2:10, 2:10, 2:10].min() > 0.95


def test_ms_ssim_mean_ranks_blur(textured_volume: np.ndarray) -> None:
    slight = ndimage.gaussian_filter(textured_volume, 0.7)
    strong = ndimage.gaussian_filter(textured_volume, 2.0)
    assert metrics.ms_ssim(textured_volume, textured_volume) == pytest.approx(1.0)
    assert metrics.ms_ssim(slight, textured_volume) > metrics.ms_ssim(strong, textured_volume)


def test_usable_scales_shrinks_on_small_volumes() -> None:
    assert metrics.usable_scales((32, 32, 32), 5) == 2
    assert metrics.usable_scales((200, 200, 200), 5) == 5
    assert metrics.usable_scales((64, 11, 11), 3) == 1
    assert metrics.usable_scales((5, 64, 64), 3) == 3  # a thin slab: scales follow the in-plane size


def test_thin_slab_gets_slice_wise_ssim(textured_volume: np.ndarray) -> None:
    slab = textured_volume[:5]
    blurred = ndimage.gaussian_filter(textured_volume, 1.0)[:5]
    value = metrics.ssim(blurred, slab)
    assert 0.0 < value < 0.99
    assert metrics.ms_ssim_map(blurred, slab, scales=3).shape == slab.shape
    with pytest.raises(ValueError, match="two axes"):
        metrics.ssim(blurred[:, :5], slab[:, :5])


@pytest.mark.parametrize(
    ("shape_img", "mask_shape", "message"),
    [((32, 32, 31), (32, 32, 32), "shapes differ"), ((32, 32, 32), (32, 32, 8), "mask shape")],
)
def test_bad_inputs_raise(textured_volume: np.ndarray, shape_img: tuple, mask_shape: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        metrics.psnr_db(np.zeros(shape_img), textured_volume, np.ones(mask_shape, dtype=bool))


def test_empty_mask_raises(textured_volume: np.ndarray) -> None:
    with pytest.raises(ValueError, match="empty"):
        metrics.ssim(textured_volume, textured_volume, np.zeros(textured_volume.shape, dtype=bool))
