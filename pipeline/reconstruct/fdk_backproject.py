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
buffer that stays in the L1 cache. For one row at one angle:

- Which voxels land on the detector is a run ``[i0, i1)``: with ``w > 0`` the
  five edge tests are linear in ``i``, so the run's ends come from five
  half-lines in float64 (RTK computes in double: a float32 test put a few
  voxels exactly at the detector's edge on the other side, 2e-3 of the range
  on a 128^3 field of view). Voxels off the detector cost nothing.
- Pass 1 (numba, vectorised): detector position, fractions and weight of each
  voxel of the run, one division per voxel, float32. The projections carry a
  one-pixel border copied from their edge, so clamping the base pixel into
  the border reproduces the half-pixel edge clamp without a branch.
- Pass 2 (:func:`_sample_block`, LLVM vector IR): eight voxels at a time, two
  8-byte loads per voxel (the two horizontally adjacent samples of each
  detector row are neighbours in memory), a shuffle into lanes, the bilinear
  weights and the accumulation in vector registers. numba left alone made four
  scalar loads per voxel plus one load per pass-1 array: the load ports were
  the limit (7.1 cycles per voxel-update on AMD Zen 4 before, 3.6-4.5 now, the
  shortest rows slowest; ``benchmarks/recon_fdk.py`` measures it). AVX-512
  gathers were slower than scalar loads on that core (1.3 vs 0.8 ns per
  4-sample update, measured when this was written), so the loads stay scalar.

Voxels behind the source (``w <= 0``) gain nothing; RTK back-projects them
through the source, outside any field of view.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from pipeline.acquisition.contract import Geometry
from pipeline.grid import VolumeGrid

TILE_ROWS = 4  # y rows of one tile
LANES = 8  # voxels per vector block of pass 2 (one AVX2 register of float32)
_BORDER = 1  # pixels copied from the edge around each projection
_MAX_INDEX = 2**31 - 1  # sample indices are int32 within one call
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


def run_coefficients(matrices: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """``[angle, 5, 5]`` float64: per detector-edge test ``(c0, cj, ck, b, -1/b)``.

    A voxel ``(i, j, k)`` lands on the detector when ``c0 + cj j + ck k + b i >= 0``
    for all five tests: ``w > 0``, column ``>= -0.5`` and ``< columns - 0.5``,
    row ``>= -0.5`` and ``< rows - 0.5`` (each multiplied through by ``w``).
    ``-1/b`` is 0 where ``b`` is.
    """
    m = matrices
    tests = np.stack(
        [
            m[:, 2],
            m[:, 0] + 0.5 * m[:, 2],
            (columns - 0.5) * m[:, 2] - m[:, 0],
            m[:, 1] + 0.5 * m[:, 2],
            (rows - 0.5) * m[:, 2] - m[:, 1],
        ],
        axis=1,
    )  # [angle, test, (i, j, k, 1)]
    slope = tests[..., 0]
    safe = np.where(slope != 0.0, slope, 1.0)
    neg_inv = np.where(slope != 0.0, -1.0 / safe, 0.0)
    return np.ascontiguousarray(np.stack([tests[..., 3], tests[..., 1], tests[..., 2], slope, neg_inv], axis=-1))


@numba.njit(inline="always")
def _run(coefficients: np.ndarray, a: int, j: int, k: int, nx: int) -> tuple[int, int]:
    """Voxels ``[i0, i1)`` of row (j, k) that land on the detector at angle ``a`` (float64, as RTK)."""
    lo, hi = 0.0, float(nx)
    for t in range(5):
        offset = coefficients[a, t, 0] + coefficients[a, t, 1] * j + coefficients[a, t, 2] * k
        slope = coefficients[a, t, 3]
        if slope > 0.0:
            lo = max(lo, offset * coefficients[a, t, 4])
        elif slope < 0.0:
            hi = min(hi, np.floor(offset * coefficients[a, t, 4]) + 1.0)
        elif offset < 0.0:
            hi = -1.0
    if hi <= lo:
        return 0, 0
    return int(np.ceil(lo)), int(hi)


@intrinsic
def _sample_block(typingctx, flat, ats, fus, fvs, ws, acc, start, acc_start, stride):  # noqa: ANN001, ANN202
    """``acc[acc_start + l] += ws[start + l] · bilinear(flat at ats[start + l])`` for ``l < LANES``.

    ``ats`` index the top-left sample in ``flat`` (float32, rows ``stride``
    apart), ``fus``/``fvs`` are the column/row fractions. Each voxel's two
    sample pairs are 8-byte loads, shuffled into lanes; the arithmetic runs on
    ``LANES``-wide vectors. Why LLVM IR: numba has no vector types, and its
    scalar loop needed twice the loads (the load ports were the bottleneck).
    """
    sig = types.void(flat, ats, fus, fvs, ws, acc, start, acc_start, stride)

    def codegen(context, builder, signature, args):  # noqa: ANN001, ANN202
        flat_a, at_a, fu_a, fv_a, w_a, acc_a = (
            context.make_array(t)(context, builder, v) for t, v in zip(signature.args[:6], args[:6])
        )
        start_v, acc_start_v, stride_v = args[6], args[7], args[8]
        f32, i32, i64 = ir.FloatType(), ir.IntType(32), ir.IntType(64)
        vf, vi, pair = ir.VectorType(f32, LANES), ir.VectorType(i32, LANES), ir.VectorType(f32, 2)

        def block(array, vector_type, index):  # noqa: ANN001, ANN202
            return builder.bitcast(builder.gep(array.data, [index]), vector_type.as_pointer())

        at = builder.load(block(at_a, vi, start_v), align=4)
        fu = builder.load(block(fu_a, vf, start_v), align=4)
        fv = builder.load(block(fv_a, vf, start_v), align=4)
        w = builder.load(block(w_a, vf, start_v), align=4)
        acc_p = block(acc_a, vf, acc_start_v)
        stride64 = builder.sext(stride_v, i64) if stride_v.type != i64 else stride_v

        def load_pair(index):  # noqa: ANN001, ANN202
            return builder.load(builder.bitcast(builder.gep(flat_a.data, [index]), pair.as_pointer()), align=4)

        tops, bottoms = [], []
        for lane in range(LANES):
            index = builder.zext(builder.extract_element(at, ir.Constant(i32, lane)), i64)
            tops.append(load_pair(index))
            bottoms.append(load_pair(builder.add(index, stride64)))

        def concat(parts):  # noqa: ANN001, ANN202
            while len(parts) > 1:
                n = parts[0].type.count
                mask = ir.Constant(ir.VectorType(i32, 2 * n), list(range(2 * n)))
                parts = [builder.shuffle_vector(parts[q], parts[q + 1], mask) for q in range(0, len(parts), 2)]
            return parts[0]

        def left_right(interleaved):  # noqa: ANN001, ANN202
            left = ir.Constant(vi, list(range(0, 2 * LANES, 2)))
            right = ir.Constant(vi, list(range(1, 2 * LANES, 2)))
            return (
                builder.shuffle_vector(interleaved, interleaved, left),
                builder.shuffle_vector(interleaved, interleaved, right),
            )

        p00, p01 = left_right(concat(tops))
        p10, p11 = left_right(concat(bottoms))
        top = builder.fadd(p00, builder.fmul(fu, builder.fsub(p01, p00)))
        bottom = builder.fadd(p10, builder.fmul(fu, builder.fsub(p11, p10)))
        value = builder.fadd(top, builder.fmul(fv, builder.fsub(bottom, top)))
        # voxels off the run have weight 0 and may carry any fraction (even NaN): select, not multiply
        zero = ir.Constant(vf, [0.0] * LANES)
        gain = builder.select(builder.fcmp_ordered(">", w, zero), builder.fmul(w, value), zero)
        builder.store(builder.fadd(builder.load(acc_p, align=4), gain), acc_p, align=4)
        return context.get_dummy_value()

    return sig, codegen


@numba.njit(parallel=True, fastmath=_FAST, cache=True, nogil=True, error_model="numpy", boundscheck=False)
def _backproject(
    flat: np.ndarray,
    per_angle: int,
    stride: int,
    matrices: np.ndarray,
    coefficients: np.ndarray,
    rows: int,
    columns: int,
    out: np.ndarray,
) -> None:
    """``flat``: the bordered projections one after the other (``per_angle`` values each, rows ``stride`` apart)."""
    nz, ny, nx = out.shape
    n_angles = matrices.shape[0]
    stride32 = np.int32(stride)
    col_top = np.int32(columns)  # base pixel in the bordered image: 0 .. columns (its right neighbour is the border)
    row_top = np.int32(rows)
    zero_i = np.int32(0)
    zero = np.float32(0.0)
    one = np.float32(1.0)
    nxp = (nx + LANES - 1) // LANES * LANES
    y_tiles = (ny + TILE_ROWS - 1) // TILE_ROWS
    for tile in numba.prange(nz * y_tiles):
        k = tile // y_tiles
        j0 = (tile % y_tiles) * TILE_ROWS
        j1 = min(ny, j0 + TILE_ROWS)
        acc = np.zeros(TILE_ROWS * nxp, dtype=np.float32)
        xs = np.arange(nxp).astype(np.float32)
        ats = np.zeros(nxp, dtype=np.uint32)
        fus = np.zeros(nxp, dtype=np.float32)
        fvs = np.zeros(nxp, dtype=np.float32)
        ws = np.zeros(nxp, dtype=np.float32)
        for a in range(n_angles):
            # the border shifts detector coordinates by one pixel: (u + 1)·w = u·w + w
            mu = np.float32(matrices[a, 0, 0] + matrices[a, 2, 0])
            mv = np.float32(matrices[a, 1, 0] + matrices[a, 2, 0])
            mw = np.float32(matrices[a, 2, 0])
            base = np.int32(a * per_angle)
            for j in range(j0, j1):
                i0, i1 = _run(coefficients, a, j, k, nx)
                if i1 <= i0:
                    continue
                bwd = matrices[a, 2, 1] * j + matrices[a, 2, 2] * k + matrices[a, 2, 3]
                bu = np.float32(matrices[a, 0, 1] * j + matrices[a, 0, 2] * k + matrices[a, 0, 3] + bwd)
                bv = np.float32(matrices[a, 1, 1] * j + matrices[a, 1, 2] * k + matrices[a, 1, 3] + bwd)
                bw = np.float32(bwd)
                b0 = i0 // LANES * LANES
                b1 = (i1 + LANES - 1) // LANES * LANES
                # pass 1 (vectorised) over whole blocks; voxels of a block outside the run get weight 0
                for ii in range(b0, b1):
                    i = np.uintp(ii)  # unsigned: no negative-index wraparound, so the loop vectorises
                    x = xs[i]
                    w = bw + mw * x
                    inv = one / w
                    u = (bu + mu * x) * inv
                    v = (bv + mv * x) * inv
                    ui = min(max(np.int32(u), zero_i), col_top)  # integer clamps hold for NaN too (x86: INT_MIN)
                    vi = min(max(np.int32(v), zero_i), row_top)
                    fus[i] = u - np.float32(ui)
                    fvs[i] = v - np.float32(vi)
                    ws[i] = inv * inv if (ii >= i0) & (ii < i1) & (w > zero) else zero
                    ats[i] = np.uint32(base + vi * stride32 + ui)
                # pass 2: bilinear samples, LANES voxels at a time
                row = (j - j0) * nxp
                for block in range(b0, b1, LANES):
                    _sample_block(flat, ats, fus, fvs, ws, acc, block, row + block, stride)
        for j in range(j0, j1):
            row = (j - j0) * nxp
            for i in range(nx):
                out[k, j, i] += acc[row + i]


def bordered(projections: np.ndarray) -> np.ndarray:
    """``[angle, rows + 2, columns + 2]`` float32 with a one-pixel border copied from the edge pixels, plus one
    trailing zero (flat, C order): the clamped bilinear sample then needs no branch."""
    n, rows, columns = projections.shape
    b = _BORDER
    flat = np.empty(n * (rows + 2 * b) * (columns + 2 * b) + 1, dtype=np.float32)
    view = flat[:-1].reshape(n, rows + 2 * b, columns + 2 * b)
    view[:, b:-b, b:-b] = projections
    view[:, :b, b:-b] = projections[:, :1]
    view[:, -b:, b:-b] = projections[:, -1:]
    view[:, :, :b] = view[:, :, b : b + 1]
    view[:, :, -b:] = view[:, :, -b - 1 : -b]
    flat[-1] = 0.0
    return flat


def backproject(projections: np.ndarray, matrices: np.ndarray, out: np.ndarray) -> None:
    """Add the back-projection of ``projections`` (float32 ``[angle, row, column]``) into ``out`` (``[z, y, x]``).

    ``matrices`` come from :func:`detector_matrices` with the same first row.
    ``out`` must be C-contiguous float32 (it is written in place).
    """
    n_angles, rows, columns = projections.shape
    if rows == 0 or columns == 0 or n_angles == 0:
        return
    matrices = np.ascontiguousarray(matrices, dtype=np.float64)
    stride = columns + 2 * _BORDER
    per_angle = (rows + 2 * _BORDER) * stride
    chunk = max(1, _MAX_INDEX // per_angle - 1)  # angles per call, so that sample indices fit in int32
    target = np.asarray(out)
    for a0 in range(0, n_angles, chunk):
        a1 = min(n_angles, a0 + chunk)
        part = matrices[a0:a1]
        _backproject(
            bordered(projections[a0:a1]),
            per_angle,
            stride,
            part,
            run_coefficients(part, rows, columns),
            rows,
            columns,
            target,
        )
