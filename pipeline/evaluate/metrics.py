"""Image-quality figures restricted to a mask: PSNR, SSIM and a 3D MS-SSIM map.

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
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from skimage.transform import downscale_local_mean

# Wang, Simoncelli & Bovik (2003), weights of scales 1 (finest) .. 5.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
SSIM_SIGMA_PX = 1.5
# skimage's Gaussian SSIM window: 2 * int(3.5 * sigma + 0.5) + 1 voxels.
SSIM_WINDOW_PX = 2 * int(3.5 * SSIM_SIGMA_PX + 0.5) + 1


def _check(image: np.ndarray, reference: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """The boolean mask (all-True when None) after checking shapes agree."""
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
    """Max minus min of ``reference`` inside ``mask`` (1.0 for a constant reference)."""
    values = reference[mask] if mask is not None else reference
    span = float(np.max(values) - np.min(values))
    return span if span > 0 else 1.0


def psnr_db(image: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio (dB) of ``image`` against ``reference`` inside ``mask``."""
    mask = _check(image, reference, mask)
    ref = reference[mask].astype(np.float64)
    img = image[mask].astype(np.float64)
    if np.array_equal(ref, img):
        return float("inf")
    return float(peak_signal_noise_ratio(ref, img, data_range=data_range(ref)))


def ssim_map(image: np.ndarray, reference: np.ndarray, value_range: float) -> np.ndarray:
    """skimage's per-voxel SSIM (Gaussian window, sigma 1.5 voxels) of two same-shape volumes.

    A volume thinner than the window along one axis (a held-out slab) gets 2D
    SSIM slice by slice along that axis.
    """
    thin = [axis for axis, n in enumerate(reference.shape) if n < SSIM_WINDOW_PX]
    if len(thin) > 1 or (thin and reference.ndim < 3):
        raise ValueError(f"SSIM needs at least two axes >= {SSIM_WINDOW_PX} voxels (got shape {reference.shape})")
    if thin:
        axis = thin[0]
        maps = [ssim_map(np.take(image, i, axis), np.take(reference, i, axis), value_range) for i in range(reference.shape[axis])]
        return np.stack(maps, axis=axis)
    _, full = structural_similarity(
        reference.astype(np.float64),
        image.astype(np.float64),
        data_range=value_range,
        gaussian_weights=True,
        sigma=SSIM_SIGMA_PX,
        use_sample_covariance=False,
        full=True,
    )
    return full


def ssim(image: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean SSIM inside ``mask`` (range from the reference inside the mask)."""
    mask = _check(image, reference, mask)
    full = ssim_map(image, reference, data_range(reference, mask))
    return float(np.mean(full[mask]))


def usable_scales(shape: tuple[int, ...], scales: int) -> int:
    """How many of ``scales`` dyadic scales still fit an SSIM window (at least 1; a thin axis is ignored)."""
    usable = 1
    side = sorted(shape)[-2]
    while usable < scales and side // 2**usable >= SSIM_WINDOW_PX:
        usable += 1
    return usable


def ms_ssim_map(image: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None, scales: int = 3) -> np.ndarray:
    """Per-voxel 3D MS-SSIM in [0, 1] (see module docstring); 1 where the volumes agree."""
    mask = _check(image, reference, mask)
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
    mask = _check(image, reference, mask)
    return float(np.mean(ms_ssim_map(image, reference, mask, scales)[mask]))
