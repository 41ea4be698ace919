"""Bring the scout onto the registered zoom grid (resampling), coverage and similarity figures."""

from __future__ import annotations

import os

import numpy as np
from scipy import ndimage

from pipeline.grid import VolumeGrid

os.environ.setdefault("ITK_GLOBAL_DEFAULT_THREADER", "Pool")
import SimpleITK as sitk  # noqa: E402


def _placed(array: np.ndarray, grid: VolumeGrid, dtype: int) -> sitk.Image:
    image = sitk.Cast(sitk.GetImageFromArray(np.ascontiguousarray(array)), dtype)
    image.SetOrigin(grid.origin_mm)
    image.SetSpacing(grid.spacing_mm)
    image.SetDirection(grid.direction)
    return image


def _resample(image: sitk.Image, target: VolumeGrid, interpolator: int, threads: int | None) -> np.ndarray:
    resampler = sitk.ResampleImageFilter()
    resampler.SetSize(list(target.shape_xyz))
    resampler.SetOutputOrigin(target.origin_mm)
    resampler.SetOutputSpacing(target.spacing_mm)
    resampler.SetOutputDirection(target.direction)
    resampler.SetInterpolator(interpolator)
    resampler.SetDefaultPixelValue(0)
    if threads is not None:
        resampler.SetNumberOfThreads(threads)
    return sitk.GetArrayFromImage(resampler.Execute(image))


def resample_onto(
    volume: np.ndarray, mask: np.ndarray, source: VolumeGrid, target: VolumeGrid, threads: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``volume`` (on ``source``) sampled at ``target``'s voxels, both grids in one frame.

    B-spline for the values; the mask (nearest neighbour) is False wherever the
    target voxel falls outside the source box or its mask.
    """
    values = _resample(_placed(volume.astype(np.float32), source, sitk.sitkFloat32), target, sitk.sitkBSpline, threads)
    valid = _resample(_placed(mask.astype(np.uint8), source, sitk.sitkUInt8), target, sitk.sitkNearestNeighbor, threads)
    return values.astype(np.float32), valid.astype(bool)


def is_covered(inner: VolumeGrid, outer: VolumeGrid) -> bool:
    """Whether every voxel centre of ``inner`` lies within ``outer``'s voxel-centre box (corners suffice)."""
    nx, ny, nz = inner.shape_xyz
    corners = np.array([[x, y, z] for x in (0, nx - 1) for y in (0, ny - 1) for z in (0, nz - 1)], dtype=float)
    index = outer.physical_to_index(inner.index_to_physical(corners))
    upper = np.asarray(outer.shape_xyz, dtype=float) - 1.0
    return bool(np.all((index >= -1e-6) & (index <= upper + 1e-6)))


def masked_ncc(a: np.ndarray, b: np.ndarray, mask: np.ndarray, smoothing_voxels: float = 0.0) -> float:
    """Normalised cross-correlation of ``a`` and ``b`` over ``mask`` (after optional Gaussian smoothing)."""
    if smoothing_voxels > 0:
        a = ndimage.gaussian_filter(a.astype(np.float32), smoothing_voxels)
        b = ndimage.gaussian_filter(b.astype(np.float32), smoothing_voxels)
    x = a[mask].astype(np.float64)
    y = b[mask].astype(np.float64)
    if x.size < 2:
        return 0.0
    x -= x.mean()
    y -= y.mean()
    denom = float(np.sqrt(np.sum(x * x) * np.sum(y * y)))
    return float(np.sum(x * y) / denom) if denom > 0 else 0.0
