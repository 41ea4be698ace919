"""Truth volumes: the analytic phantom sampled on any voxel grid.

Each voxel holds ``mu * (fraction of its s^3 sub-points inside the solid)``, so
partial volumes at pore walls are right to ``1/s^3``. Works for any
:class:`~pipeline.grid.VolumeGrid` (rotated, anisotropic) given in the sample
frame; pores are painted only over their own bounding boxes.
"""

from __future__ import annotations

import numba
import numpy as np

from pipeline.grid import VolumeGrid
from pipeline.simulate.phantom import Phantom


@numba.njit(cache=True, parallel=True)
def _cylinder_counts(
    origin: np.ndarray,
    axes: np.ndarray,
    nz: int,
    ny: int,
    nx: int,
    ss: int,
    cyl_centre: np.ndarray,
    radius: float,
    half_h: float,
) -> np.ndarray:  # pragma: no cover - compiled
    """Sub-points of each voxel inside the cylinder; ``axes[:, m]`` is the step of index axis m (x, y, z)."""
    counts = np.zeros((nz, ny, nx), dtype=np.int32)
    r2 = radius * radius
    for k in numba.prange(nz):
        for j in range(ny):
            for i in range(nx):
                n = 0
                for sk in range(ss):
                    fk = k + (sk + 0.5) / ss - 0.5
                    for sj in range(ss):
                        fj = j + (sj + 0.5) / ss - 0.5
                        for si in range(ss):
                            fi = i + (si + 0.5) / ss - 0.5
                            px = origin[0] + axes[0, 0] * fi + axes[0, 1] * fj + axes[0, 2] * fk - cyl_centre[0]
                            py = origin[1] + axes[1, 0] * fi + axes[1, 1] * fj + axes[1, 2] * fk - cyl_centre[1]
                            pz = origin[2] + axes[2, 0] * fi + axes[2, 1] * fj + axes[2, 2] * fk - cyl_centre[2]
                            if px * px + py * py <= r2 and abs(pz) <= half_h:
                                n += 1
                counts[k, j, i] = n
    return counts


@numba.njit(cache=True)
def _subtract_pores(
    counts: np.ndarray,
    origin: np.ndarray,
    axes: np.ndarray,
    inverse: np.ndarray,
    ss: int,
    centres: np.ndarray,
    radii: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Remove the sub-points inside each pore (pores are inside the cylinder and disjoint)."""
    nz, ny, nx = counts.shape
    for p in range(radii.shape[0]):
        rad = radii[p]
        r2 = rad * rad
        lo = np.empty(3, dtype=np.int64)
        hi = np.empty(3, dtype=np.int64)
        sizes = (nx, ny, nz)
        for m in range(3):
            centre_index = 0.0
            reach = 0.0
            for q in range(3):
                centre_index += inverse[m, q] * (centres[p, q] - origin[q])
                reach += inverse[m, q] * inverse[m, q]
            reach = rad * np.sqrt(reach)
            lo[m] = max(0, int(np.floor(centre_index - reach)) - 1)
            hi[m] = min(sizes[m], int(np.ceil(centre_index + reach)) + 2)
        for k in range(lo[2], hi[2]):
            for j in range(lo[1], hi[1]):
                for i in range(lo[0], hi[0]):
                    n = 0
                    for sk in range(ss):
                        fk = k + (sk + 0.5) / ss - 0.5
                        for sj in range(ss):
                            fj = j + (sj + 0.5) / ss - 0.5
                            for si in range(ss):
                                fi = i + (si + 0.5) / ss - 0.5
                                dx = origin[0] + axes[0, 0] * fi + axes[0, 1] * fj + axes[0, 2] * fk - centres[p, 0]
                                dy = origin[1] + axes[1, 0] * fi + axes[1, 1] * fj + axes[1, 2] * fk - centres[p, 1]
                                dz = origin[2] + axes[2, 0] * fi + axes[2, 1] * fj + axes[2, 2] * fk - centres[p, 2]
                                if dx * dx + dy * dy + dz * dz < r2:
                                    n += 1
                    counts[k, j, i] -= n


def voxelise(phantom: Phantom, grid: VolumeGrid, supersample: int = 2) -> np.ndarray:
    """Attenuation (1/mm) of ``phantom`` on ``grid`` (sample frame), float32 ``[z, y, x]``."""
    if supersample < 1:
        raise ValueError(f"supersample must be >= 1 (got {supersample})")
    axes = grid.direction_matrix * np.asarray(grid.spacing_mm)[None, :]
    origin = np.asarray(grid.origin_mm, dtype=float)
    nz, ny, nx = grid.shape_zyx
    cyl = phantom.cylinder
    counts = _cylinder_counts(
        origin,
        axes,
        nz,
        ny,
        nx,
        supersample,
        np.asarray(cyl.centre_mm, dtype=float),
        cyl.radius_mm,
        cyl.height_mm / 2.0,
    )
    centres, radii = phantom.pore_arrays()
    _subtract_pores(counts, origin, axes, np.linalg.inv(axes), supersample, np.ascontiguousarray(centres), radii)
    scale = np.float32(phantom.mu_per_mm / supersample**3)
    return counts.astype(np.float32) * scale
