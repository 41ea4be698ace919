"""Image-quality figures restricted to a mask: a 3D MS-SSIM map, on top of :mod:`models.quality`'s PSNR and SSIM.

All functions compare an ``image`` with a ``reference`` (the zoom scan, or the
ground truth in simulations) on the same voxel grid. The dynamic range is the
reference's range *inside the mask*, so air or the region outside the
reconstructable field of view does not inflate the figures.

MS-SSIM map: skimage's SSIM map (``full=True``, Gaussian window sigma 1.5, as
Wang et al.) is computed at ``scales`` dyadic scales (2x2x2 mean pooling),
each map is brought back to full resolution (linear interpolation) and the
maps are combined as a weighted geometric mean with Wang et al.'s 2003 scale
weights (renormalised to the scales used; negative SSIM clipped to 0). Unlike
the original (luminance only at the coarsest scale) every scale contributes
its full SSIM; this keeps the computation in skimage and gives a per-voxel map.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.transform import downscale_local_mean

from models.quality import SSIM_WINDOW_PX, checked_mask, data_range, psnr_db, ssim, ssim_map

__all__ = ["data_range", "ms_ssim", "ms_ssim_map", "psnr_db", "ssim", "usable_scales"]

# Wang, Simoncelli & Bovik (2003), weights of scales 1 (finest) .. 5.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def usable_scales(shape: tuple[int, ...], scales: int) -> int:
    """How many of ``scales`` dyadic scales still fit an SSIM window (at least 1; a thin axis is ignored)."""
    usable = 1
    side = sorted(shape)[-2]
    while usable < scales and side // 2**usable >= SSIM_WINDOW_PX:
        usable += 1
    return usable


def ms_ssim_map(
    image: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None, scales: int = 3
) -> np.ndarray:
    """Per-voxel 3D MS-SSIM in [0, 1] (see module docstring); 1 where the volumes agree."""
    mask = checked_mask(image, reference, mask)
    value_range = data_range(reference, mask)
    n_scales = usable_scales(reference.shape, scales)
    weights = np.asarray(MS_SSIM_WEIGHTS[:n_scales])
    weights = weights / weights.sum()
    img = image.astype(np.float64)
    ref = reference.astype(np.float64)
    log_map = np.zeros(reference.shape, dtype=np.float64)
    for scale, weight in enumerate(weights):
        if scale > 0:
            factors = tuple(2 if n >= 2 else 1 for n in img.shape)
            even = tuple(slice(0, f * (n // f)) for n, f in zip(img.shape, factors))
            img = downscale_local_mean(img[even], factors)
            ref = downscale_local_mean(ref[even], factors)
        full = np.clip(ssim_map(img, ref, value_range), 1e-6, 1.0)
        if full.shape != reference.shape:
            factors = [n / m for n, m in zip(reference.shape, full.shape)]
            full = ndimage.zoom(full, factors, order=1, mode="nearest", grid_mode=True)
            full = _fit_shape(full, reference.shape)
        log_map += weight * np.log(full)
    return np.exp(log_map)


def _fit_shape(volume: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Crop or edge-pad ``volume`` to ``shape`` (ndimage.zoom may be one voxel off)."""
    crop = volume[tuple(slice(0, n) for n in shape)]
    pad = [(0, n - m) for n, m in zip(shape, crop.shape)]
    return np.pad(crop, pad, mode="edge") if any(p for _, p in pad) else crop


def ms_ssim(image: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None, scales: int = 3) -> float:
    """Mean of :func:`ms_ssim_map` inside ``mask``."""
    mask = checked_mask(image, reference, mask)
    return float(np.mean(ms_ssim_map(image, reference, mask, scales)[mask]))
