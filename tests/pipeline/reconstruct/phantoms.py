"""Exact line integrals of spheres and z-cylinders in the contract v1 frame (test oracle).

Independent of RTK: at angle θ the sample has turned by +θ about +z, so in the
sample frame the source is ``R_z(-θ) (0, -SOD, 0)`` and detector pixel (row r,
column c) is ``R_z(-θ) ((c - pc) pitch_c, SDD - SOD, -(r - pr) pitch_r)`` with
(pr, pc) the principal point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.acquisition.contract import Geometry, ScanMetadata
from pipeline.acquisition.scan import Scan


@dataclass(frozen=True)
class Sphere:
    centre_mm: tuple[float, float, float]
    radius_mm: float
    mu: float


@dataclass(frozen=True)
class Cylinder:
    """Axis parallel to z through (x, y) = centre[:2]; spans centre[2] ± height/2."""

    centre_mm: tuple[float, float, float]
    radius_mm: float
    height_mm: float
    mu: float


Shape = Sphere | Cylinder


def _rot_z(theta: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rays(geometry: Geometry, angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Source (3,) and unit directions [rows, cols, 3] in the sample frame."""
    pr, pc = geometry.principal_point_px()
    pitch_r, pitch_c = geometry.detector_pixel_mm
    rows, cols = geometry.detector_shape
    r, c = np.meshgrid(np.arange(rows, dtype=float), np.arange(cols, dtype=float), indexing="ij")
    sod, sdd = geometry.source_to_axis_mm, geometry.source_to_detector_mm
    pixels = np.stack([(c - pc) * pitch_c, np.full_like(r, sdd - sod), -(r - pr) * pitch_r], axis=-1)
    rot = _rot_z(-np.radians(angle_deg))
    source = rot @ np.array([0.0, -sod, 0.0])
    ends = pixels @ rot.T
    direction = ends - source
    return source, direction / np.linalg.norm(direction, axis=-1, keepdims=True)


def chord(shape: Shape, source: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Length (mm) of each ray inside ``shape``."""
    rel = source - np.asarray(shape.centre_mm)
    if isinstance(shape, Sphere):
        b = direction @ rel
        disc = b**2 - (rel @ rel - shape.radius_mm**2)
        return 2.0 * np.sqrt(np.clip(disc, 0.0, None))
    dxy, rxy = direction[..., :2], rel[:2]
    a = np.sum(dxy**2, axis=-1)
    b = dxy @ rxy
    disc = b**2 - a * (rxy @ rxy - shape.radius_mm**2)
    root = np.sqrt(np.clip(disc, 0.0, None))
    safe_a = np.where(a > 1e-12, a, 1.0)
    t0, t1 = (-b - root) / safe_a, (-b + root) / safe_a
    dz = np.where(np.abs(direction[..., 2]) > 1e-12, direction[..., 2], 1e-12)
    z0, z1 = (-shape.height_mm / 2 - rel[2]) / dz, (shape.height_mm / 2 - rel[2]) / dz
    lo = np.maximum(t0, np.minimum(z0, z1))
    hi = np.minimum(t1, np.maximum(z0, z1))
    return np.where(disc > 0, np.clip(hi - lo, 0.0, None), 0.0)


def project(geometry: Geometry, shapes: list[Shape]) -> np.ndarray:
    """Line integrals [angle, row, col] float32 of the sum of ``shapes`` (mu may be negative for holes)."""
    out = np.zeros((geometry.n_angles, *geometry.detector_shape), dtype=np.float32)
    for index, angle in enumerate(geometry.angles()):
        source, direction = rays(geometry, float(angle))
        out[index] = sum(shape.mu * chord(shape, source, direction) for shape in shapes)
    return out


def density(shapes: list[Shape], points_xyz: np.ndarray) -> np.ndarray:
    """Attenuation (1/mm) at physical points [..., 3]."""
    total = np.zeros(points_xyz.shape[:-1])
    for shape in shapes:
        rel = points_xyz - np.asarray(shape.centre_mm)
        if isinstance(shape, Sphere):
            inside = np.sum(rel**2, axis=-1) <= shape.radius_mm**2
        else:
            inside = (np.hypot(rel[..., 0], rel[..., 1]) <= shape.radius_mm) & (
                np.abs(rel[..., 2]) <= shape.height_mm / 2
            )
        total += shape.mu * inside
    return total


def make_meta(
    role: str = "scout",
    detector: tuple[int, int] = (64, 64),
    pitch_mm: float = 0.2,
    angles: int = 180,
    span_deg: float = 360.0,
    start_deg: float = 0.0,
    offset_px: tuple[float, float] = (0.0, 0.0),
    sod_mm: float = 25.0,
    sdd_mm: float = 250.0,
) -> ScanMetadata:
    return ScanMetadata.model_validate(
        {
            "format_version": 1,
            "role": role,
            "sample_id": "test",
            "values": "line_integral",
            "geometry": {
                "source_to_axis_mm": sod_mm,
                "source_to_detector_mm": sdd_mm,
                "detector_shape": list(detector),
                "detector_pixel_mm": [pitch_mm, pitch_mm],
                "detector_offset_px": list(offset_px),
                "angles_deg": {"start": start_deg, "step": span_deg / angles, "count": angles},
            },
        }
    )


def make_scan(meta: ScanMetadata, shapes: list[Shape]) -> Scan:
    return Scan(meta=meta, line_integrals=project(meta.geometry, shapes))
