"""Step 1 alone: FFT phase correlation within one voxel of the translation part."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.register.phase import phase_correlate
from pipeline.register.synthetic import SyntheticPair, make_pair

VOXEL_MM = 0.01


def _true_shift_voxels(pair: SyntheticPair) -> np.ndarray:
    return (pair.true_matrix[:, 3] - np.asarray(pair.scout_box_grid.centre_mm)) / VOXEL_MM


@pytest.mark.parametrize("fixture", ["pair_3to1", "pair_5to1_noisy"])
def test_fft_within_one_voxel_despite_rotation_and_scale(fixture: str, request: pytest.FixtureRequest) -> None:
    pair: SyntheticPair = request.getfixturevalue(fixture)
    found = phase_correlate(pair.zoom, pair.scout, pair.zoom_mask & pair.scout_mask, (6.4, 6.4, 6.4))
    error = np.asarray(found.shift_voxels) - _true_shift_voxels(pair)
    assert np.all(np.abs(error) < 1.0), error
    assert not found.at_search_edge


def test_fft_is_sub_voxel_for_pure_translation() -> None:
    pair = make_pair(48, ratio=3.0, noise=0.02, stage_error_mm=(-0.021, 0.013, 0.0045), seed=3)
    found = phase_correlate(pair.zoom, pair.scout, pair.zoom_mask, (4.8, 4.8, 4.8))
    assert np.allclose(found.shift_voxels, _true_shift_voxels(pair), atol=0.5)


def test_fft_search_is_limited_to_its_radius() -> None:
    """A shift beyond the radius cannot be returned; the peak then sits at the search edge."""
    pair = make_pair(48, ratio=3.0, noise=0.02, stage_error_mm=(0.06, 0.0, 0.0), seed=4)
    found = phase_correlate(pair.zoom, pair.scout, pair.zoom_mask, (3.0, 3.0, 3.0))
    assert np.all(np.abs(found.shift_voxels) <= 3.5)
    assert found.at_search_edge
    wide = phase_correlate(pair.zoom, pair.scout, pair.zoom_mask, (8.0, 8.0, 8.0))
    assert wide.shift_voxels[0] == pytest.approx(6.0, abs=1.0)
