"""Analytic projector against the contract v1 frame, computed by hand here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.acquisition.contract import ScanMetadata
from pipeline.simulate import Cylinder, Phantom, Pore, project_phantom

SDD = 250.0
PITCH = 0.2
MU = 0.9


def meta(
    role: str, sod: float, angles: list[float], *, n: int = 64, offset=(0.0, 0.0), position=(0.0, 0.0, 0.0)
) -> ScanMetadata:
    return ScanMetadata.model_validate(
        {
            "format_version": 1,
            "role": role,
            "sample_id": "t",
            "values": "line_integral",
            "geometry": {
                "source_to_axis_mm": sod,
                "source_to_detector_mm": SDD,
                "detector_shape": [n, n],
                "detector_pixel_mm": [PITCH, PITCH],
                "detector_offset_px": list(offset),
                "angles_deg": angles,
            },
            "sample_position_mm": list(position),
        }
    )


def phantom(pores: list[Pore]) -> Phantom:
    return Phantom(cylinder=Cylinder(radius_mm=1.0, height_mm=2.0), mu_per_mm=MU, pores=pores)


def rot_z(theta_deg: float) -> np.ndarray:
    t = math.radians(theta_deg)
    return np.array([[math.cos(t), -math.sin(t), 0], [math.sin(t), math.cos(t), 0], [0, 0, 1]])


def predicted_pixel(point: np.ndarray, m: ScanMetadata, theta_deg: float) -> tuple[float, float]:
    """(row, col) of a sample point per DESIGN.md: turn by +theta about +z, cone projection, rows along -z."""
    g = m.geometry
    x, y, z = rot_z(theta_deg) @ (point - np.asarray(m.sample_position_mm))
    scale = g.source_to_detector_mm / (g.source_to_axis_mm + y) / PITCH
    row0 = (g.rows - 1) / 2 + g.detector_offset_px[0]
    col0 = (g.columns - 1) / 2 + g.detector_offset_px[1]
    return row0 - z * scale, col0 + x * scale


def shadow_centroid(pore: Pore, m: ScanMetadata, index: int) -> tuple[float, float, np.ndarray]:
    """Chord-weighted centroid of one pore's shadow: projection without it minus with it."""
    full = project_phantom(phantom([]), m, [index]).astype(np.float64)[0]
    holed = project_phantom(phantom([pore]), m, [index]).astype(np.float64)[0]
    chord = full - holed
    rows, cols = np.indices(chord.shape)
    weight = chord.sum()
    return float((rows * chord).sum() / weight), float((cols * chord).sum() / weight), chord


@pytest.mark.parametrize("role", ["scout", "zoom"])
@pytest.mark.parametrize("index, theta", [(0, 0.0), (1, 90.0)])
def test_single_pore_lands_where_the_frame_says(role: str, index: int, theta: float) -> None:
    if role == "scout":
        m = meta("scout", 25.0, [0.0, 90.0], offset=(1.5, -2.25))
        pore = Pore(centre_mm=(0.35, -0.2, 0.3), radius_mm=0.06)
    else:  # 3x magnified, looking at an off-axis interior point
        m = meta("zoom", 25.0 / 3, [0.0, 90.0], offset=(-0.75, 1.0), position=(0.3, 0.15, 0.2))
        pore = Pore(centre_mm=(0.4, 0.1, 0.14), radius_mm=0.04)
    row, col, chord = shadow_centroid(pore, m, index)
    want_row, want_col = predicted_pixel(np.asarray(pore.centre_mm), m, theta)
    assert chord.max() == pytest.approx(2 * pore.radius_mm * MU, rel=0.05)  # a ray through (nearly) the centre
    assert row == pytest.approx(want_row, abs=0.05)
    assert col == pytest.approx(want_col, abs=0.05)


def test_at_90_degrees_a_point_on_plus_x_moves_to_plus_y() -> None:
    """+theta is counter-clockwise seen from above: (x, 0, 0) goes to (0, x, 0), farther from the source."""
    m = meta("scout", 25.0, [0.0, 90.0], n=128)
    pore = Pore(centre_mm=(0.5, 0.0, 0.0), radius_mm=0.2)
    _, col0, chord0 = shadow_centroid(pore, m, 0)
    _, col90, chord90 = shadow_centroid(pore, m, 1)
    assert col0 > (m.geometry.columns - 1) / 2 + 10  # x > 0 shows right of centre at angle 0
    assert col90 == pytest.approx((m.geometry.columns - 1) / 2, abs=0.05)
    # farther from the source (depth 25.5 instead of 25 mm) -> a shadow smaller by the magnification squared
    assert chord0.sum() / chord90.sum() == pytest.approx((25.5 / 25.0) ** 2, rel=0.01)


def test_central_ray_through_the_solid_cylinder() -> None:
    m = meta("scout", 25.0, [0.0, 33.0], n=129)
    integrals = project_phantom(phantom([]), m)
    assert integrals[:, 64, 64] == pytest.approx([2.0 * MU, 2.0 * MU], rel=1e-6)
    assert integrals[:, 64, 0] == pytest.approx([0.0, 0.0], abs=1e-9)  # outside the cylinder's shadow
    # a ray in the central plane at lateral distance b from the axis (at the detector): chord 2 sqrt(r^2 - b^2)
    col = 64 + 30
    b = 25.0 * math.sin(math.atan2(30 * PITCH, SDD))
    assert integrals[0, 64, col] == pytest.approx(2 * MU * math.sqrt(1.0 - b * b), rel=1e-5)


def _source(m: ScanMetadata, theta: float, rotation: np.ndarray) -> np.ndarray:
    """Source position in the sample frame at angle theta (mount rotation Q: sample -> scan frame)."""
    sod = m.geometry.source_to_axis_mm
    return rotation.T @ rot_z(-theta) @ np.array([0.0, -sod, 0.0]) + np.asarray(m.sample_position_mm)


def _aim(
    m: ScanMetadata, theta: float, rotation: np.ndarray, direction: np.ndarray, pixel: tuple[int, int]
) -> ScanMetadata:
    """The same scan with its detector offset chosen so that ``pixel``'s centre sees ``direction``."""
    g = m.geometry
    d = rot_z(theta) @ rotation @ direction
    t = g.source_to_detector_mm / d[1]
    u, v = t * d[0], -t * d[2]
    offset = (pixel[0] - (g.rows - 1) / 2 - v / PITCH, pixel[1] - (g.columns - 1) / 2 - u / PITCH)
    return m.model_copy(update={"geometry": g.model_copy(update={"detector_offset_px": offset})})


def test_zoom_and_scout_rays_along_one_line_agree() -> None:
    """The line through a scout source and a zoom source, seen by both scans, has one line integral."""
    remount = np.array([[1, 0, 0], [0, math.cos(0.02), -math.sin(0.02)], [0, math.sin(0.02), math.cos(0.02)]])
    theta_s, theta_z = 10.0, 12.0
    scout = meta("scout", 25.0, [theta_s])
    zoom = meta("zoom", 25.0 / 3, [theta_z], position=(0.3, 0.15, 0.2))
    s_scout, s_zoom = _source(scout, theta_s, np.eye(3)), _source(zoom, theta_z, remount)
    direction = (s_zoom - s_scout) / np.linalg.norm(s_zoom - s_scout)
    # pores on and beside that line where it crosses the sample
    t_axis = -(s_zoom[:2] @ direction[:2]) / (direction[:2] @ direction[:2])  # nearest approach to the z axis
    on_line = [s_zoom + (t_axis + dt) * direction for dt in (-0.6, 0.0, 0.5)]
    sideways = np.cross(direction, [0.0, 0.0, 1.0])
    pores = [
        Pore(centre_mm=tuple(on_line[0] + 0.03 * sideways), radius_mm=0.08),
        Pore(centre_mm=tuple(on_line[1]), radius_mm=0.1),
        Pore(centre_mm=tuple(on_line[2] - 0.05 * sideways), radius_mm=0.12),
    ]
    sample = phantom(pores)
    scout = _aim(scout, theta_s, np.eye(3), direction, (20, 40))
    zoom = _aim(zoom, theta_z, remount, direction, (33, 17))
    via_scout = project_phantom(sample, scout).astype(np.float64)[0, 20, 40]
    via_zoom = project_phantom(sample, zoom, mount_rotation=remount).astype(np.float64)[0, 33, 17]
    solid = project_phantom(phantom([]), scout).astype(np.float64)[0, 20, 40]
    assert solid > 1.0  # the line crosses the sample...
    assert via_scout < solid - 0.3  # ...and the pores
    assert via_zoom == pytest.approx(via_scout, abs=1e-5)


def test_supersampling_averages_the_transmission_of_sub_rays() -> None:
    """A 2x2 supersampled pixel = -ln(mean exp(-L)) over four rays a quarter pixel off its centre."""
    sample = phantom([Pore(centre_mm=(0.2, 0.1, 0.0), radius_mm=0.3)])
    m = meta("scout", 25.0, [15.0], n=40)
    fine = project_phantom(sample, m, supersample=2)[0].astype(np.float64)
    transmissions = []
    for dr in (-0.25, 0.25):
        for dc in (-0.25, 0.25):
            # the detector shifted by (-dr, -dc) puts pixel centres where the sub-rays are
            shifted = m.model_copy(
                update={"geometry": m.geometry.model_copy(update={"detector_offset_px": (-dr, -dc)})}
            )
            transmissions.append(np.exp(-project_phantom(sample, shifted)[0].astype(np.float64)))
    expected = -np.log(np.mean(transmissions, axis=0))
    assert np.abs(fine - expected).max() < 1e-5
    coarse = project_phantom(sample, m)[0].astype(np.float64)
    assert np.abs(fine - coarse).max() > 0.02  # at the pore edge supersampling matters
