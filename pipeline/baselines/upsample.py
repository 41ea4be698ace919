"""Cubic and trilinear resampling of the scout from its native grid onto the zoom grid."""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import ndimage

from pipeline.grid import VolumeGrid

ORDERS = {"trilinear": 1, "cubic": 3}


def upsample_to_grid(
    volume: np.ndarray,
    source_grid: VolumeGrid,
    target_grid: VolumeGrid,
    method: Literal["trilinear", "cubic"] = "cubic",
    *,
    slab_z: int = 16,
) -> np.ndarray:
    """``volume`` (on ``source_grid``) sampled at every voxel centre of ``target_grid``; float32 ``[z, y, x]``.

    Both grids are in the same physical frame (e.g. the zoom grid as placed in
    the scout frame by registration). Points outside the source are filled by
    the nearest edge value. Works slab by slab so memory stays small.
    """
    if tuple(volume.shape) != tuple(source_grid.shape_zyx):
        raise ValueError(f"volume shape {volume.shape} does not match its grid {source_grid.shape_zyx}")
    order = ORDERS[method]
    coefficients = (
        ndimage.spline_filter(np.asarray(volume, np.float64), order=order, mode="nearest")
        if order > 1
        else np.asarray(volume, np.float64)
    )
    nz, ny, nx = target_grid.shape_zyx
    out = np.empty(target_grid.shape_zyx, np.float32)
    j, i = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    for z0 in range(0, nz, slab_z):
        z1 = min(nz, z0 + slab_z)
        k = np.broadcast_to(np.arange(z0, z1)[:, None, None], (z1 - z0, ny, nx))
        index_xyz = np.stack([np.broadcast_to(i, k.shape), np.broadcast_to(j, k.shape), k], axis=-1)
        source_xyz = source_grid.physical_to_index(target_grid.index_to_physical(index_xyz))
        coords = np.moveaxis(source_xyz[..., ::-1], -1, 0)  # (z, y, x) index order for map_coordinates
        out[z0:z1] = ndimage.map_coordinates(coefficients, coords, order=order, mode="nearest", prefilter=False)
    return out


def cubic_upsample(volume: np.ndarray, source_grid: VolumeGrid, target_grid: VolumeGrid) -> np.ndarray:
    return upsample_to_grid(volume, source_grid, target_grid, "cubic")


def trilinear_upsample(volume: np.ndarray, source_grid: VolumeGrid, target_grid: VolumeGrid) -> np.ndarray:
    return upsample_to_grid(volume, source_grid, target_grid, "trilinear")
