"""The reconstructable region of a grid: circular field of view and cone limits.

A point at height z (mm, contract frame, source height = 0) and distance r from
the rotation axis is seen by every projection when ``r`` is within the
field-of-view radius and its vertical shadow stays on the detector rows at the
strongest magnification it meets, ``SDD / (SOD - r)`` (nearest the source).
"""

from __future__ import annotations

import math

import numpy as np

from pipeline.acquisition.contract import Geometry, ScanMetadata
from pipeline.grid import VolumeGrid
from pipeline.reconstruct.rtk_geometry import row_height_mm

_CHUNK_VOXELS = 1 << 21  # points evaluated at once (bounds the float64 scratch to ~50 MB)


def detector_heights_mm(geometry: Geometry) -> tuple[float, float]:
    """(bottom, top) heights (mm, +up) of the detector's outer row edges."""
    return row_height_mm(geometry, geometry.rows - 0.5), row_height_mm(geometry, -0.5)


def points_in_view(geometry: Geometry, points_xyz: np.ndarray) -> np.ndarray:
    """Whether each physical point ``[..., 3]`` (contract frame, mm) is seen at every angle."""
    return coordinates_in_view(geometry, points_xyz[..., 0], points_xyz[..., 1], points_xyz[..., 2])


def coordinates_in_view(geometry: Geometry, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Whether each physical point (coordinates ``x``, ``y``, ``z`` in mm, broadcast together) is seen at every
    angle."""
    sod, sdd = geometry.source_to_axis_mm, geometry.source_to_detector_mm
    radius = np.hypot(x, y)
    inside = radius <= geometry.field_of_view_radius_mm()
    depth = np.maximum(sod - radius, 1e-9)
    height = z * sdd / depth
    bottom, top = detector_heights_mm(geometry)
    return inside & (height >= bottom) & (height <= top)


def reconstruction_mask(meta: ScanMetadata, grid: VolumeGrid) -> np.ndarray:
    """Boolean ``[z, y, x]``: voxels of ``grid`` (placed in ``meta``'s scan frame) that FDK can reconstruct.

    A voxel's position is linear in its index, so each coordinate is a broadcast sum of three 1-D ramps: no
    ``[z, y, x, 3]`` array of positions is built."""
    nz, ny, nx = grid.shape_zyx
    mask = np.empty(grid.shape_zyx, dtype=bool)
    slices_per_chunk = max(1, _CHUNK_VOXELS // (ny * nx))
    linear = grid.direction_matrix * np.asarray(grid.spacing_mm)[None, :]  # index (x, y, z) -> mm, no origin
    origin = np.asarray(grid.origin_mm)
    i = np.arange(nx, dtype=float)[None, None, :]
    j = np.arange(ny, dtype=float)[None, :, None]
    in_plane = [origin[c] + linear[c, 0] * i + linear[c, 1] * j for c in range(3)]  # [1, y, x] per coordinate
    for z0 in range(0, nz, slices_per_chunk):
        z1 = min(nz, z0 + slices_per_chunk)
        k = np.arange(z0, z1, dtype=float)[:, None, None]
        x, y, z = (in_plane[c] + linear[c, 2] * k for c in range(3))
        mask[z0:z1] = coordinates_in_view(meta.geometry, x, y, z)
    return mask


def rows_needed(geometry: Geometry, grid: VolumeGrid, margin_rows: int = 2) -> tuple[int, int]:
    """Detector rows ``[row0, row1)`` that the voxels of ``grid`` project onto at any angle (cone geometry)."""
    corners = grid.corners_mm()
    sod, sdd = geometry.source_to_axis_mm, geometry.source_to_detector_mm
    radius = float(np.max(np.hypot(corners[:, 0], corners[:, 1])))
    if radius >= 0.999 * sod:
        return 0, geometry.rows
    heights = [z * sdd / (sod + s) for z in (corners[:, 2].min(), corners[:, 2].max()) for s in (-radius, radius)]
    pitch_row = geometry.detector_pixel_mm[0]
    pp_row = geometry.principal_point_px()[0]
    row_top = pp_row - max(heights) / pitch_row  # rows grow downwards
    row_bottom = pp_row - min(heights) / pitch_row
    row0 = max(0, math.floor(row_top) - margin_rows)
    row1 = min(geometry.rows, math.ceil(row_bottom) + 1 + margin_rows)
    return (row0, row1) if row1 > row0 else (0, 0)
