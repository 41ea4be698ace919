"""The output region: which part of the scout to recover, on which grid.

The output grid is the zoom grid (as registration placed it in the scout
frame: same spacing and orientation) extended by whole voxels, so the zoom
region sits at integer indices inside it and training and inference inputs
are reconstructed on identical geometry. By default it covers the scout's
whole field of view; a box (centre and size, mm, scout frame) can be given;
either way it is shrunk about its centre to fit the voxel budget, if one is set
(a user limit; none by default).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from pipeline.acquisition.contract import ScanMetadata
from pipeline.grid import VolumeGrid


class OutputPlacement(BaseModel):
    """The output grid and where the zoom grid lies inside it (index offset, x/y/z)."""

    grid: VolumeGrid
    zoom_offset_xyz: tuple[int, int, int]
    clipped_by_budget: bool
    requested_voxels: int


def extended_grid(grid: VolumeGrid, lo_xyz: np.ndarray, hi_xyz: np.ndarray) -> VolumeGrid:
    """The grid whose voxel ``[0,0,0]`` is ``grid``'s index ``lo`` and last voxel is index ``hi`` (inclusive)."""
    lo = np.asarray(lo_xyz, dtype=float)
    hi = np.asarray(hi_xyz, dtype=float)
    centre = grid.index_to_physical((lo + hi) / 2.0)
    shape_xyz = (hi - lo + 1).astype(int)
    return grid.model_copy(
        update={
            "shape_zyx": (int(shape_xyz[2]), int(shape_xyz[1]), int(shape_xyz[0])),
            "centre_mm": tuple(float(c) for c in centre),
        }
    )


def output_placement(
    zoom_grid_in_scout: VolumeGrid,
    scout: ScanMetadata | None = None,
    *,
    centre_mm: tuple[float, float, float] | None,
    size_mm: tuple[float, float, float] | None,
    voxel_budget: int | None,
) -> OutputPlacement:
    """Choose the output grid (see module docstring); without ``size_mm`` the ``scout``'s field of view."""
    if size_mm is None:
        if scout is None:
            raise ValueError("output_placement needs size_mm or the scout's metadata")
        radius = scout.geometry.field_of_view_radius_mm()
        size_mm = (2 * radius, 2 * radius, scout.geometry.field_of_view_height_mm())
    if centre_mm is None:
        centre_mm = (0.0, 0.0, 0.0)
    half = np.asarray(size_mm, dtype=float) / 2.0
    corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * half + np.asarray(
        centre_mm
    )
    index = zoom_grid_in_scout.physical_to_index(corners)
    lo = np.floor(index.min(axis=0)).astype(int)
    hi = np.ceil(index.max(axis=0)).astype(int)
    requested = int(np.prod(hi - lo + 1))
    clipped = voxel_budget is not None and requested > voxel_budget
    if voxel_budget is not None and clipped:
        factor = (voxel_budget / requested) ** (1.0 / 3.0)
        middle = (lo + hi) / 2.0
        half_extent = (hi - lo + 1) * factor / 2.0
        lo = np.ceil(middle - half_extent + 0.5).astype(int)
        hi = lo + np.maximum(1, np.floor(2 * half_extent).astype(int)) - 1
        while int(np.prod(hi - lo + 1)) > voxel_budget:
            hi = hi - (hi - lo == (hi - lo).max())
    grid = extended_grid(zoom_grid_in_scout, lo, hi)
    return OutputPlacement(
        grid=grid,
        zoom_offset_xyz=tuple(int(-v) for v in lo),  # zoom index 0 sits at output index -lo
        clipped_by_budget=clipped,
        requested_voxels=requested,
    )


def zoom_slices(placement: OutputPlacement, zoom_shape_zyx: tuple[int, int, int]) -> tuple[slice, slice, slice] | None:
    """Index slices ([z, y, x]) of the output covered by the zoom volume, clipped to the output; None if disjoint."""
    ox, oy, oz = placement.zoom_offset_xyz
    out = placement.grid.shape_zyx
    result = []
    for offset, length, limit in (
        (oz, zoom_shape_zyx[0], out[0]),
        (oy, zoom_shape_zyx[1], out[1]),
        (ox, zoom_shape_zyx[2], out[2]),
    ):
        start, stop = max(0, offset), min(limit, offset + length)
        if stop <= start:
            return None
        result.append(slice(start, stop))
    return (result[0], result[1], result[2])
