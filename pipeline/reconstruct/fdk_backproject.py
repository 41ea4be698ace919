"""Voxel-driven cone-beam back-projection of filtered projections (numba, all cores).

For each angle a 3x4 matrix maps a voxel index ``(i, j, k, 1)`` (x, y, z) to
homogeneous detector coordinates ``(column·w, row·w, w)``, with ``w`` the
voxel's distance from the source divided by the source-to-axis distance; the
voxel gains ``value(row, column) / w²``. ``value`` is bilinear between pixel
centres and clamped to the edge pixels within half a pixel of the detector
edge; a voxel that projects farther out gains nothing at that angle (RTK's
``FDKBackProjectionImageFilter`` with ITK's linear interpolator does the same).

Any grid centre, spacing and direction: the matrix carries them. The work is
split into tiles of a few x rows, each accumulated over all angles in a small
buffer that stays in the L1 cache. Each row of voxels takes two passes: the
projection arithmetic (one division per voxel) vectorised over the row, then
the four samples per voxel with scalar loads (this core has no gather worth
using): about 6.5 cycles per voxel-update with everything in L1, 2 to 2.5x
the 2 cycles the four sample loads alone need (``benchmarks/recon_fdk.py``).
Whether a voxel projects onto the detector is decided in float64 (RTK
computes in double: a float32 test put a few voxels exactly at the detector's
edge on the other side, 2e-3 of the range on a 128^3 field of view); the
interpolation itself is float32. Voxels behind the source (``w <= 0``) gain nothing; RTK back-projects them
through the source, outside any field of view.
"""

from __future__ import annotations

import numba
import numpy as np

from pipeline.acquisition.contract import Geometry
from pipeline.grid import VolumeGrid

TILE_ROWS = 4  # y rows of one tile
# fast-math without "no NaN / no inf": a voxel behind the source (w <= 0) must still test as outside
_FAST = {"contract", "arcp", "afn", "reassoc", "nsz"}


def detector_matrices(geometry: Geometry, grid: VolumeGrid, row0: int = 0) -> np.ndarray:
    """``[angle, 3, 4]`` float64: voxel index (x, y, z, 1) -> (column·w, (row - row0)·w, w) in the contract frame.

    At angle θ the sample has turned by +θ, so in the sample frame the source
    sits at ``-SOD e_d`` with ``e_d = R_z(-θ) e_y`` (towards the detector) and
    detector columns run along ``e_u = R_z(-θ) e_x``, rows down along -z.
    """
    sod, sdd = geometry.source_to_axis_mm, geometry.source_to_detector_mm
    pitch_row, pitch_col = geometry.detector_pixel_mm
    pp_row, pp_col = geometry.principal_point_px()
    theta = np.radians(geometry.angles())
    c, s = np.cos(theta), np.sin(theta)
    e_u = np.stack([c, -s, np.zeros_like(c)], axis=-1)  # R_z(-θ) e_x
    e_d = np.stack([s, c, np.zeros_like(c)], axis=-1)  # R_z(-θ) e_y
    e_z = np.broadcast_to(np.array([0.0, 0.0, 1.0]), e_u.shape)
    # physical point P (mm) -> (column·w, row·w, w) with w = (P·e_d + SOD) / SOD
    lin = np.empty((theta.size, 3, 3))
    const = np.empty((theta.size, 3))
    lin[:, 2] = e_d / sod
    const[:, 2] = 1.0
    lin[:, 0] = (sdd / pitch_col * e_u + pp_col * e_d) / sod
    const[:, 0] = pp_col
    lin[:, 1] = (-sdd / pitch_row * e_z + (pp_row - row0) * e_d) / sod
    const[:, 1] = pp_row - row0
    # voxel index -> P = origin + direction @ (spacing * index)
    index_to_point = grid.direction_matrix * np.asarray(grid.spacing_mm)[None, :]
    origin = np.asarray(grid.origin_mm)
    matrices = np.empty((theta.size, 3, 4))
    matrices[:, :, :3] = lin @ index_to_point
    matrices[:, :, 3] = lin @ origin + const
    return matrices


@numba.njit(parallel=True, fastmath=_FAST, cache=True, nogil=True, error_model="numpy")
def _backproject(projections: np.ndarray, matrices: np.ndarray, rows: int, columns: int, out: np.ndarray) -> None:
    nz, ny, nx = out.shape
    n_angles = projections.shape[0]
    row_hid = rows - 0.5
    col_hid = columns - 0.5
    row_max = np.float32(rows - 1)
    col_max = np.float32(columns - 1)
    row_base_max = np.int32(max(rows - 2, 0))
    col_base_max = np.int32(max(columns - 2, 0))
    stride = np.int32(projections.shape[2])
    ustride = np.uintp(projections.shape[2])
    next_col = np.uintp(1)
    zero = np.float32(0.0)
    one = np.float32(1.0)
    y_tiles = (ny + TILE_ROWS - 1) // TILE_ROWS
    for tile in numba.prange(nz * y_tiles):
        k = tile // y_tiles
        j0 = (tile % y_tiles) * TILE_ROWS
        j1 = min(ny, j0 + TILE_ROWS)
        acc = np.zeros((TILE_ROWS, nx), dtype=np.float32)
        xs = np.arange(nx).astype(np.float32)
        xds = np.arange(nx).astype(np.float64)
        at = np.empty(nx, dtype=np.uint32)
        fus = np.empty(nx, dtype=np.float32)
        fvs = np.empty(nx, dtype=np.float32)
        weights = np.empty(nx, dtype=np.float32)
        for a in range(n_angles):
            m = matrices[a]
            flat = projections[a].ravel()
            mu = np.float32(m[0, 0])
            mv = np.float32(m[1, 0])
            mw = np.float32(m[2, 0])
            mud = m[0, 0]
            mvd = m[1, 0]
            mwd = m[2, 0]
            for j in range(j0, j1):
                bu = np.float32(m[0, 1] * j + m[0, 2] * k + m[0, 3])
                bv = np.float32(m[1, 1] * j + m[1, 2] * k + m[1, 3])
                bw = np.float32(m[2, 1] * j + m[2, 2] * k + m[2, 3])
                bud = m[0, 1] * j + m[0, 2] * k + m[0, 3]
                bvd = m[1, 1] * j + m[1, 2] * k + m[1, 3]
                bwd = m[2, 1] * j + m[2, 2] * k + m[2, 3]
                # pass 1 (vectorised): where each voxel of the row lands, and its weight
                for i in range(nx):
                    x = xs[i]
                    xd = xds[i]
                    wd = bwd + mwd * xd
                    nud = bud + mud * xd
                    nvd = bvd + mvd * xd
                    # in or out as RTK decides, in float64 (no division needed)
                    inside = (wd > 0.0) & (nud >= -0.5 * wd) & (nud < col_hid * wd)
                    inside &= (nvd >= -0.5 * wd) & (nvd < row_hid * wd)
                    w = bw + mw * x
                    inv = one / w
                    u = (bu + mu * x) * inv
                    v = (bv + mv * x) * inv
                    weights[i] = inv * inv if inside else zero
                    uc = min(max(u, zero), col_max)
                    vc = min(max(v, zero), row_max)
                    ui = max(min(np.int32(uc), col_base_max), np.int32(0))  # integer clamps hold for NaN too
                    vi = max(min(np.int32(vc), row_base_max), np.int32(0))
                    fus[i] = uc - np.float32(ui)
                    fvs[i] = vc - np.float32(vi)
                    at[i] = np.uint32(vi * stride + ui)
                # pass 2 (scalar loads): bilinear samples
                row_acc = acc[j - j0]
                for i in range(nx):
                    p = np.uintp(at[i])
                    p00 = flat[p]
                    p01 = flat[p + next_col]
                    p10 = flat[p + ustride]
                    p11 = flat[p + ustride + next_col]
                    fu = fus[i]
                    top = p00 + fu * (p01 - p00)
                    bottom = p10 + fu * (p11 - p10)
                    row_acc[i] += weights[i] * (top + fvs[i] * (bottom - top))
        for j in range(j0, j1):
            for i in range(nx):
                out[k, j, i] += acc[j - j0, i]


def backproject(projections: np.ndarray, matrices: np.ndarray, out: np.ndarray) -> None:
    """Add the back-projection of ``projections`` (float32 ``[angle, row, column]``) into ``out`` (``[z, y, x]``).

    ``matrices`` come from :func:`detector_matrices` with the same first row.
    A detector one pixel wide or high is padded so that the clamped
    interpolation has two samples to work with.
    """
    rows, columns = projections.shape[1:]
    if rows == 0 or columns == 0:
        return
    data = projections
    if rows == 1:
        data = np.concatenate([data, data], axis=1)
    if columns == 1:
        data = np.concatenate([data, data], axis=2)
    if not data.flags.c_contiguous or data.dtype != np.float32:
        data = np.ascontiguousarray(data, dtype=np.float32)
    _backproject(data, np.ascontiguousarray(matrices, dtype=np.float64), rows, columns, np.asarray(out))
