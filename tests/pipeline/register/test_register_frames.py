"""Working frames, the rotation x scale split of ITK's matrix, and grid maps."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from scipy.spatial.transform import Rotation

from pipeline.grid import VolumeGrid
from pipeline.register.frames import WorkingFrames, displacement_rms_voxels, grid_in_scout, rotation_and_scale
from pipeline.register.synthetic import make_pair


def test_itk_scale_versor_is_not_rotation_times_scale() -> None:
    """The reason for rotation_and_scale: ITK builds R + diag(s) - I, not R @ diag(s)."""
    t = sitk.ScaleVersor3DTransform()
    t.SetRotation((0.0, 0.0, 1.0), np.deg2rad(30))
    t.SetScale((2.0, 1.0, 1.0))
    matrix = np.asarray(t.GetMatrix()).reshape(3, 3)
    r = Rotation.from_rotvec([0, 0, np.deg2rad(30)]).as_matrix()
    assert np.allclose(matrix, r + np.diag([1.0, 0.0, 0.0]))
    assert not np.allclose(matrix, r @ np.diag([2.0, 1.0, 1.0]))


def test_rotation_and_scale_recovers_exact_product() -> None:
    r = Rotation.from_rotvec(np.deg2rad([1.0, -2.0, 1.5])).as_matrix()
    s = np.array([1.02, 0.98, 1.01])
    rotation, scale = rotation_and_scale(r @ np.diag(s))
    assert np.allclose(rotation, r, atol=1e-12)
    assert np.allclose(scale, s, atol=1e-12)


def test_rotation_and_scale_rejects_mirror() -> None:
    with pytest.raises(ValueError, match="mirror"):
        rotation_and_scale(np.diag([1.0, 1.0, -1.0]))


def test_grid_in_scout_matches_true_matrix() -> None:
    pair = make_pair(16, stage_error_mm=(0.01, 0.0, -0.02), rotation_deg=(1.0, 2.0, -1.0), scale=(1.02, 0.99, 1.0))
    frames = WorkingFrames(pair.zoom_grid, pair.scout_box_grid)
    r = Rotation.from_rotvec(np.deg2rad([1.0, 2.0, -1.0])).as_matrix()
    s = np.array([1.02, 0.99, 1.0])
    tau = frames.tau_from_centre(pair.true_matrix[:, 3])
    grid = grid_in_scout(pair.zoom_grid, r, s, frames.centre_in_scout_mm(tau))
    index = np.random.default_rng(0).uniform(0, 15, size=(50, 3))
    p_zoom = pair.zoom_grid.index_to_physical(index)
    expected = p_zoom @ pair.true_matrix[:, :3].T + pair.true_matrix[:, 3]
    assert np.allclose(grid.index_to_physical(index), expected, atol=1e-12)
    assert np.allclose(frames.zoom_to_scout_matrix(r @ np.diag(s), tau), pair.true_matrix, atol=1e-12)
    assert displacement_rms_voxels(grid, pair.true_zoom_grid_in_scout) < 1e-9


def test_working_frames_place_images_consistently() -> None:
    """A voxel's working coordinate maps back to its millimetre position."""
    zoom_grid = VolumeGrid.isotropic((8, 10, 12), 0.02, centre_mm=(0.1, 0.2, 0.3))
    scout_grid = zoom_grid.with_centre((1.0, -2.0, 0.5))
    frames = WorkingFrames(zoom_grid, scout_grid)
    origin, spacing, _ = frames.moving_geometry()
    index = np.array([3.0, 4.0, 5.0])
    w = np.asarray(origin) + index * np.asarray(spacing)
    assert np.allclose(frames.prior_mm + frames.unit_mm * w, scout_grid.index_to_physical(index))
    origin_q, spacing_q, _ = frames.fixed_geometry()
    centre_q = np.asarray(origin_q) + (np.array([11, 9, 7]) / 2.0) * np.asarray(spacing_q)
    assert np.allclose(centre_q, 0.0)


def test_displacement_rms_counts_voxels() -> None:
    grid = VolumeGrid.isotropic((16, 16, 16), 0.01)
    shifted = grid.with_centre((0.0, 0.01, 0.0))
    assert displacement_rms_voxels(grid, shifted) == pytest.approx(1.0)
