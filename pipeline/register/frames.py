"""The normalised working frames the optimiser runs in, and maps between grids.

SimpleITK's L-BFGS-B ignores optimiser scales, so parameters must be balanced
by the units themselves. Both volumes are therefore expressed in frames where
one unit is half the zoom field of view: the zoom frame centred on the zoom
and aligned with its index axes (``q``), and the scout frame centred on the
stage prior (``w``). A translation, a rotation angle and a scale change of the
same size then move the edge of the zoom box by about the same distance.

The registered map is ``w = M @ q + tau``; in millimetres
``p_scout = prior + L * tau + M @ D_zoom.T @ (p_zoom - c_zoom)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import polar
from scipy.spatial.transform import Rotation

from pipeline.grid import VolumeGrid


@dataclass(frozen=True)
class WorkingFrames:
    """Zoom grid, scout box grid, and the length unit ``unit_mm`` (half the zoom field of view)."""

    zoom_grid: VolumeGrid
    scout_box_grid: VolumeGrid

    @property
    def unit_mm(self) -> float:
        return float(np.mean(self.zoom_grid.size_mm)) / 2.0

    @property
    def prior_mm(self) -> np.ndarray:
        return np.asarray(self.scout_box_grid.centre_mm, dtype=float)

    def fixed_geometry(self) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
        """(origin, spacing, direction) of the zoom volume in the ``q`` frame."""
        spacing = np.asarray(self.zoom_grid.spacing_mm) / self.unit_mm
        origin = -(np.asarray(self.zoom_grid.shape_xyz, dtype=float) - 1.0) / 2.0 * spacing
        return tuple(origin), tuple(spacing), tuple(np.eye(3).ravel())

    def moving_geometry(self) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
        """(origin, spacing, direction) of the scout box in the ``w`` frame."""
        grid = self.scout_box_grid
        origin = (np.asarray(grid.origin_mm) - self.prior_mm) / self.unit_mm
        spacing = np.asarray(grid.spacing_mm) / self.unit_mm
        return tuple(origin), tuple(spacing), tuple(grid.direction)

    def centre_in_scout_mm(self, tau: np.ndarray) -> np.ndarray:
        """The zoom centre in the scout frame for working translation ``tau``."""
        return self.prior_mm + self.unit_mm * np.asarray(tau, dtype=float)

    def tau_from_centre(self, centre_mm: np.ndarray) -> np.ndarray:
        return (np.asarray(centre_mm, dtype=float) - self.prior_mm) / self.unit_mm

    def zoom_to_scout_matrix(self, linear: np.ndarray, tau: np.ndarray) -> np.ndarray:
        """[3, 4] matrix of ``p_scout = A @ p_zoom + t`` for working map ``(linear, tau)``."""
        a = np.asarray(linear) @ self.zoom_grid.direction_matrix.T
        t = self.centre_in_scout_mm(tau) - a @ np.asarray(self.zoom_grid.centre_mm)
        return np.hstack([a, t[:, None]])


def rotation_and_scale(linear: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rotation ``R`` and per-axis scale ``s`` with ``R @ diag(s)`` nearest to ``linear``.

    ITK's ScaleVersor3DTransform builds ``R + diag(s) - I`` rather than
    ``R @ diag(s)`` (the two agree to first order); the polar decomposition
    ``linear = U @ P`` gives ``R = U`` and ``s = diag(P)``.
    """
    u, p = polar(np.asarray(linear, dtype=float))
    if np.linalg.det(u) < 0:
        raise ValueError("the registered map mirrors the volume")
    return u, np.diag(p).copy()


def grid_in_scout(zoom_grid: VolumeGrid, rotation: np.ndarray, scale: np.ndarray, centre_mm: np.ndarray) -> VolumeGrid:
    """The zoom grid seen from the scout frame: direction ``R``, spacing scaled, centre mapped.

    ``rotation`` and ``scale`` act on the zoom's index axes (working frame ``q``),
    so the zoom grid's own direction is already part of ``rotation``.
    """
    spacing = np.asarray(zoom_grid.spacing_mm) * np.asarray(scale)
    return VolumeGrid(
        shape_zyx=zoom_grid.shape_zyx,
        spacing_mm=tuple(float(s) for s in spacing),
        centre_mm=tuple(float(c) for c in centre_mm),
        direction=tuple(float(v) for v in np.asarray(rotation).ravel()),
    )


def rotation_vector_deg(rotation: np.ndarray) -> np.ndarray:
    """Rotation vector (axis times angle, degrees, [x, y, z]) of a rotation matrix."""
    return np.rad2deg(Rotation.from_matrix(rotation).as_rotvec())


def displacement_rms_voxels(
    grid_a: VolumeGrid, grid_b: VolumeGrid, mask: np.ndarray | None = None, stride: int = 4
) -> float:
    """RMS distance (in ``grid_a`` voxels) between where two grids put the same voxel indices.

    Used to compare a registration with the truth or two registration steps
    with each other, over the zoom field of view (``mask``), on a strided
    subset of voxels.
    """
    nz, ny, nx = grid_a.shape_zyx
    k, j, i = np.meshgrid(np.arange(0, nz, stride), np.arange(0, ny, stride), np.arange(0, nx, stride), indexing="ij")
    index = np.stack([i, j, k], axis=-1).astype(float)
    if mask is not None:
        index = index[mask[::stride, ::stride, ::stride]]
    else:
        index = index.reshape(-1, 3)
    diff = grid_a.index_to_physical(index) - grid_b.index_to_physical(index)
    return float(np.sqrt(np.mean(np.sum(diff**2, axis=-1))) / grid_a.voxel_mm)
