"""Reconstructable-region mask and the detector rows a slab needs."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.grid import VolumeGrid
from pipeline.reconstruct.mask import points_in_view, reconstruction_mask, rows_needed
from tests.pipeline.reconstruct.phantoms import make_meta


def detector_coordinates(meta, points: np.ndarray, angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) where the rays through ``points`` (sample frame) meet the detector at ``angle_deg``."""
    g = meta.geometry
    theta = np.radians(angle_deg)
    c, s = np.cos(theta), np.sin(theta)
    lab = points @ np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]).T  # the sample turned by +theta
    mag = g.source_to_detector_mm / (g.source_to_axis_mm + lab[:, 1])
    pr, pc = g.principal_point_px()
    return pr - lab[:, 2] * mag / g.detector_pixel_mm[0], pc + lab[:, 0] * mag / g.detector_pixel_mm[1]


@pytest.mark.parametrize("offset_px", [(0.0, 0.0), (3.0, -4.5)])
def test_masked_points_project_onto_the_detector_at_every_angle(offset_px: tuple[float, float]) -> None:
    meta = make_meta(detector=(40, 64), angles=36, offset_px=offset_px)
    rng = np.random.default_rng(0)
    points = rng.uniform([-0.8, -0.8, -0.5], [0.8, 0.8, 0.5], size=(4000, 3))
    inside = points_in_view(meta.geometry, points)
    assert 0.1 < inside.mean() < 0.9
    seen_always = np.ones(len(points), dtype=bool)
    for angle in meta.geometry.angles():
        row, col = detector_coordinates(meta, points, float(angle))
        seen_always &= (row >= -0.5) & (row <= 39.5) & (col >= -0.5) & (col <= 63.5)
    # the mask is exactly "seen at every angle", up to the 10-degree sampling of angles here
    assert np.all(seen_always[inside])
    assert np.mean(inside[seen_always]) > 0.97


def test_mask_of_native_grid_is_a_cylinder_with_cone_caps() -> None:
    meta = make_meta(detector=(64, 64))
    grid = meta.native_grid()
    mask = reconstruction_mask(meta, grid)
    nz, ny, nx = mask.shape
    assert mask[nz // 2, ny // 2, nx // 2] and not mask[nz // 2, 0, 0]
    # cone limits: the middle slice is wider than the top and bottom ones
    assert mask[nz // 2].sum() > mask[-1].sum() and mask[nz // 2].sum() > mask[0].sum()


def test_rows_needed_cover_every_projection_of_the_slab() -> None:
    meta = make_meta(detector=(64, 64), angles=36, offset_px=(2.0, 0.0))
    full = meta.native_grid()
    for z0, z1 in [(0, 5), (30, 34), (59, 64)]:
        slab = full.sub_grid(z0, z1)
        row0, row1 = rows_needed(meta.geometry, slab)
        assert 0 <= row0 < row1 <= 64 and row1 - row0 < 64
        corners = slab.corners_mm()
        for angle in meta.geometry.angles():
            row, _ = detector_coordinates(meta, corners, float(angle))
            inner = np.clip(row, 0, 63)
            assert np.all(inner >= row0) and np.all(inner <= row1 - 1)


def test_grid_far_away_has_an_empty_mask() -> None:
    meta = make_meta()
    assert not reconstruction_mask(meta, VolumeGrid.isotropic((4, 4, 4), 0.02, (5.0, 0.0, 0.0))).any()
