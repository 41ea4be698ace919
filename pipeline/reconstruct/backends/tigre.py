"""TIGRE (CERN's GPU CT toolbox) FDK, used only when the subprocess probe found it and a CUDA device.

Not testable on the CPU machines this was written on: the mapping follows
TIGRE's documented geometry (``DSO``, ``DSD``, ``nVoxel``/``dVoxel``/``offOrigin``
in (z, y, x), ``nDetector``/``dDetector``/``offDetector`` in (v, u), detector
row 0 at the bottom) and the convention CIL uses to drive TIGRE from a frame
like ours (source on -y, rotation about +z): TIGRE angle = -(θ + π/2). The
GPU test compares it with RTK and must pass before this backend is trusted.
TIGRE volumes are axis-aligned; rotated grids go to RTK instead. Truncated
projections are extended explicitly (cosine-tapered edge values) because
TIGRE's FDK has no truncation correction.
"""

from __future__ import annotations

import math

import numpy as np

from pipeline.grid import VolumeGrid
from pipeline.reconstruct.backends.base import SlabJob


def extend_truncated(projections: np.ndarray, pad_px: int) -> np.ndarray:
    """Pad columns on both sides with the edge values tapered to zero by a half cosine."""
    if pad_px <= 0:
        return projections
    taper = (0.5 * (1.0 + np.cos(np.linspace(0.0, math.pi, pad_px + 2)[1:-1]))).astype(np.float32)
    left = projections[:, :, :1] * taper[::-1]
    right = projections[:, :, -1:] * taper
    return np.concatenate([left, projections, right], axis=2)


class TigreBackend:
    name = "tigre"

    def supports(self, grid: VolumeGrid) -> str | None:
        return None if grid.is_axis_aligned else "TIGRE volumes are axis-aligned; a rotated grid needs RTK"

    def reconstruct_slab(self, job: SlabJob, out: np.ndarray) -> None:
        import tigre
        import tigre.algorithms

        geometry, grid = job.geometry, job.grid
        pad = round(job.truncation_correction * geometry.columns / 2)
        projections = np.ascontiguousarray(job.line_integrals[:, job.row0 : job.row1][:, ::-1, :], dtype=np.float32)
        projections = np.ascontiguousarray(extend_truncated(projections, pad))
        pitch_row, pitch_col = geometry.detector_pixel_mm
        pp_row, pp_col = geometry.principal_point_px()
        rows = job.row1 - job.row0
        # detector centre relative to the principal point (mm): +u along +x, +v up
        centre_row = (job.row0 + job.row1 - 1) / 2.0
        centre_col = (geometry.columns - 1) / 2.0
        geo = tigre.geometry(mode="cone", default=False)
        geo.DSO = geometry.source_to_axis_mm
        geo.DSD = geometry.source_to_detector_mm
        geo.nDetector = np.array([rows, geometry.columns + 2 * pad])
        geo.dDetector = np.array([pitch_row, pitch_col])
        geo.sDetector = geo.nDetector * geo.dDetector
        geo.offDetector = np.array([(pp_row - centre_row) * pitch_row, (centre_col - pp_col) * pitch_col])
        geo.nVoxel = np.array(grid.shape_zyx)
        geo.dVoxel = np.array(grid.spacing_mm[::-1])
        geo.sVoxel = geo.nVoxel * geo.dVoxel
        geo.offOrigin = np.array(grid.centre_mm[::-1])
        geo.rotDetector = np.array([0.0, 0.0, 0.0])
        geo.COR = 0.0
        geo.accuracy = 0.5
        angles = -(np.radians(geometry.angles()) + math.pi / 2)
        out[...] = tigre.algorithms.fdk(projections, geo, angles.astype(np.float32), filter="ram_lak")
