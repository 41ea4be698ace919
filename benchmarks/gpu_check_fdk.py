"""A numba-cuda back-projection with the numba CPU backend's arithmetic, for ``gpu_check.py`` (a prototype).

One thread per voxel, all angles in a loop: the same detector matrices
(:func:`pipeline.reconstruct.fdk_backproject.detector_matrices`), the same
inside test in float64 and the same clamped bilinear sample in float32 as
:func:`pipeline.reconstruct.fdk_backproject.backproject`, so the volume can
be checked against the CPU one. Ramp filtering stays on the CPU. Not a
backend of the pipeline yet.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, float32


@cuda.jit
def _backproject_kernel(projections, matrices, out):  # pragma: no cover - runs on the device
    i, j, k = cuda.grid(3)
    nz, ny, nx = out.shape
    if i >= nx or j >= ny or k >= nz:
        return
    rows = projections.shape[1]
    columns = projections.shape[2]
    row_hid = rows - 0.5
    col_hid = columns - 0.5
    acc = float32(0.0)
    for a in range(projections.shape[0]):
        wd = matrices[a, 2, 0] * i + matrices[a, 2, 1] * j + matrices[a, 2, 2] * k + matrices[a, 2, 3]
        nud = matrices[a, 0, 0] * i + matrices[a, 0, 1] * j + matrices[a, 0, 2] * k + matrices[a, 0, 3]
        nvd = matrices[a, 1, 0] * i + matrices[a, 1, 1] * j + matrices[a, 1, 2] * k + matrices[a, 1, 3]
        if wd > 0.0 and nud >= -0.5 * wd and nud < col_hid * wd and nvd >= -0.5 * wd and nvd < row_hid * wd:
            inv = float32(1.0) / float32(wd)
            u = min(max(float32(nud) * inv, float32(0.0)), float32(columns - 1))
            v = min(max(float32(nvd) * inv, float32(0.0)), float32(rows - 1))
            ui = max(min(int(u), columns - 2), 0)
            vi = max(min(int(v), rows - 2), 0)
            fu = u - float32(ui)
            fv = v - float32(vi)
            p00 = projections[a, vi, ui]
            p01 = projections[a, vi, ui + 1]
            p10 = projections[a, vi + 1, ui]
            p11 = projections[a, vi + 1, ui + 1]
            top = p00 + fu * (p01 - p00)
            bottom = p10 + fu * (p11 - p10)
            acc += inv * inv * (top + fv * (bottom - top))
    out[k, j, i] += acc


def backproject_cuda(projections: np.ndarray, matrices: np.ndarray, shape_zyx: tuple[int, int, int]) -> np.ndarray:
    """Back-projection of float32 ``[angle, row, column]`` (rows, columns >= 2) onto a ``shape_zyx`` volume."""
    device_projections = cuda.to_device(np.ascontiguousarray(projections, dtype=np.float32))
    device_matrices = cuda.to_device(np.ascontiguousarray(matrices, dtype=np.float64))
    device_out = cuda.to_device(np.zeros(shape_zyx, dtype=np.float32))
    threads = (32, 4, 2)
    nz, ny, nx = shape_zyx
    blocks = (math.ceil(nx / threads[0]), math.ceil(ny / threads[1]), math.ceil(nz / threads[2]))
    _backproject_kernel[blocks, threads](device_projections, device_matrices, device_out)
    cuda.synchronize()
    return device_out.copy_to_host()
