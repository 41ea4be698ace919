"""Contract v1 frame -> RTK conventions: the one place where axes and signs are mapped.

Contract v1 (DESIGN.md): z up along the rotation axis; at angle 0 the source is at
``(0, -SOD, 0)``; detector columns run along +x, rows along -z (row 0 on top);
at angle θ the *sample* has turned by +θ about +z.

RTK (``ThreeDCircularProjectionGeometry``): rotation about +Y; at gantry angle g
the source sits at ``(SID sin g, 0, SID cos g)`` and the detector's u axis is
``(cos g, 0, -sin g)``, its v axis +Y (checked against RTK 2.7's
``GetSourcePosition`` / ``GetProjectionCoordinatesToFixedSystemMatrix``).

Mapping (a proper rotation, det = +1): ``X = x, Y = z, Z = -y``. In the sample
frame the contract source is at ``(-SOD sin θ, -SOD cos θ, 0)``, i.e. RTK
``(-SOD sin θ, 0, SOD cos θ)``, so ``g = -θ``; the contract column direction
``(cos θ, -sin θ, 0)`` maps to RTK ``(cos θ, 0, sin θ)`` = u(g = -θ). Detector
rows run along -z = -v, so projections are handed to RTK with their row axis
reversed. Volumes keep their ``[z, y, x]`` arrays: only their ITK origin and
direction are expressed in RTK coordinates (RTK honours image direction).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.acquisition.contract import Geometry
from pipeline.grid import VolumeGrid

# rows: RTK X, Y, Z in terms of contract x, y, z
RTK_FROM_CONTRACT = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def rtk_gantry_angles_deg(geometry: Geometry) -> np.ndarray:
    """RTK gantry angles (degrees) of each projection: the sample turns +θ, RTK's gantry -θ."""
    return -geometry.angles()


@dataclass(frozen=True)
class Placement:
    """ITK image information: origin, spacing, direction (3x3), all in RTK's frame."""

    origin: tuple[float, float, float]
    spacing: tuple[float, float, float]
    direction: np.ndarray


def volume_placement(grid: VolumeGrid) -> Placement:
    """Where a contract-frame grid lies in RTK's frame (same array, ITK index (x, y, z))."""
    origin = RTK_FROM_CONTRACT @ np.asarray(grid.origin_mm)
    direction = RTK_FROM_CONTRACT @ grid.direction_matrix
    return Placement(tuple(float(v) for v in origin), tuple(grid.spacing_mm), direction)  # type: ignore[arg-type]


def row_height_mm(geometry: Geometry, row: float) -> float:
    """Detector height (mm, +up = contract +z = RTK v) of a (fractional) detector row."""
    return (geometry.principal_point_px()[0] - row) * geometry.detector_pixel_mm[0]


def projection_placement(geometry: Geometry, row0: int, row1: int) -> Placement:
    """RTK placement of detector rows ``[row0, row1)`` handed over *reversed* (so index v grows upwards).

    The principal point is physical (u, v) = (0, 0): RTK's projection offsets stay zero.
    """
    pitch_row, pitch_col = geometry.detector_pixel_mm
    pp_col = geometry.principal_point_px()[1]
    origin_u = -pp_col * pitch_col
    origin_v = row_height_mm(geometry, row1 - 1)  # first row handed over is the lowest one
    return Placement((origin_u, origin_v, 0.0), (pitch_col, pitch_row, 1.0), np.eye(3))


def to_rtk_projections(line_integrals: np.ndarray, row0: int, row1: int) -> np.ndarray:
    """Contiguous float32 copy of rows ``[row0, row1)``, row axis reversed for RTK."""
    return np.ascontiguousarray(line_integrals[:, row0:row1][:, ::-1, :], dtype=np.float32)


def rtk_geometry(geometry: Geometry) -> Any:
    """An ``rtk.ThreeDCircularProjectionGeometry`` for a contract v1 geometry."""
    from pipeline.reconstruct._itk import itk_modules

    _, rtk = itk_modules()
    rtk_geo = rtk.ThreeDCircularProjectionGeometry.New()
    for angle in rtk_gantry_angles_deg(geometry):
        rtk_geo.AddProjection(geometry.source_to_axis_mm, geometry.source_to_detector_mm, float(angle), 0.0, 0.0)
    return rtk_geo


def itk_image(array: np.ndarray, placement: Placement) -> Any:
    """An ITK float image viewing ``array`` (kept alive by the caller), placed in RTK's frame."""
    from pipeline.reconstruct._itk import itk_modules

    itk, _ = itk_modules()
    image = itk.image_view_from_array(array)
    image.SetOrigin([float(v) for v in placement.origin])
    image.SetSpacing([float(v) for v in placement.spacing])
    image.SetDirection(itk.matrix_from_array(np.ascontiguousarray(placement.direction, dtype=np.float64)))
    return image
