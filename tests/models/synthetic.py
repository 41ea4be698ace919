"""A small synthetic 3:1 scout/zoom pair (until the simulator lands): a foam of random spherical pores.

``zoom`` = truth mildly blurred + noise on the fine grid; the scout is the truth
strongly blurred, averaged onto a 3x coarser grid with independent noise, and
``scout_on_zoom`` is its cubic upsampling onto the fine grid (the U-Net input).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from pipeline.baselines.upsample import cubic_upsample
from pipeline.grid import VolumeGrid


@dataclass
class SyntheticPair:
    truth: np.ndarray
    zoom_clean: np.ndarray  # noise-free zoom: the reference for recovered quality
    zoom: np.ndarray
    scout: np.ndarray
    scout_grid: VolumeGrid
    zoom_grid: VolumeGrid
    scout_on_zoom: np.ndarray
    mask: np.ndarray


def foam(shape_zyx: tuple[int, int, int], pores: int, rng: np.random.Generator) -> np.ndarray:
    """Solid (1.0) with ``pores`` spherical holes (0.0) of radius 2-6 voxels."""
    zz, yy, xx = np.indices(shape_zyx, dtype=np.float32)
    volume = np.ones(shape_zyx, np.float32)
    for _ in range(pores):
        centre = rng.uniform(0, shape_zyx)
        radius = rng.uniform(2.0, 6.0)
        inside = (zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2 <= radius**2
        volume[inside] = 0.0
    return volume


def make_pair(
    shape_zyx: tuple[int, int, int] = (36, 96, 96),
    ratio: int = 3,
    seed: int = 0,
    pores: int | None = None,
    noise: float = 0.04,
) -> SyntheticPair:
    rng = np.random.default_rng(seed)
    nz, ny, nx = shape_zyx
    truth = foam(shape_zyx, pores or int(nz * ny * nx / 900), rng)
    zoom_clean = ndimage.gaussian_filter(truth, 0.7)
    zoom = zoom_clean + rng.normal(0, noise, shape_zyx).astype(np.float32)
    blurred = ndimage.gaussian_filter(truth, 0.5 * ratio)
    coarse = blurred.reshape(nz // ratio, ratio, ny // ratio, ratio, nx // ratio, ratio).mean(axis=(1, 3, 5))
    scout = (coarse + rng.normal(0, noise, coarse.shape)).astype(np.float32)
    voxel_mm = 0.01
    zoom_grid = VolumeGrid.isotropic(shape_zyx, voxel_mm)
    scout_grid = VolumeGrid.isotropic(coarse.shape, voxel_mm * ratio)
    scout_on_zoom = cubic_upsample(scout, scout_grid, zoom_grid)
    yy, xx = np.indices((ny, nx))
    disc = (yy - (ny - 1) / 2) ** 2 + (xx - (nx - 1) / 2) ** 2 <= (0.47 * min(ny, nx)) ** 2
    mask = np.broadcast_to(disc, shape_zyx).copy()
    return SyntheticPair(truth, zoom_clean, zoom.astype(np.float32), scout, scout_grid, zoom_grid, scout_on_zoom, mask)
