"""Tile geometry: coverage, blending weights summing to one, equal read shapes, on awkward shapes."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.infer.tiling import axis_tiles, plan_tiles

CASES = [
    # (shape_yx, tile, overlap, margin)
    ((1, 1), 32, 8, 2),
    ((7, 300), 64, 16, 4),
    ((128, 128), 128, 32, 8),
    ((129, 131), 64, 32, 8),
    ((577, 1000), 576, 32, 8),
    ((250, 97), 40, 12, 0),
    ((300, 300), 48, 20, 10),
]


@pytest.mark.parametrize(("shape", "tile", "overlap", "margin"), CASES)
def test_weights_sum_to_one_and_cover_everything(shape, tile, overlap, margin):
    tiles = plan_tiles(shape, tile, overlap, margin)
    total = np.zeros(shape)
    hits = np.zeros(shape, int)
    for t in tiles:
        total[t.y.core0 : t.y.core1, t.x.core0 : t.x.core1] += t.weights
        hits[t.y.core0 : t.y.core1, t.x.core0 : t.x.core1] += 1
        assert (t.weights >= 0).all()
    assert (hits >= 1).all()
    np.testing.assert_allclose(total, 1.0, atol=1e-6)


@pytest.mark.parametrize(("shape", "tile", "overlap", "margin"), CASES)
def test_tiles_share_one_read_shape_and_read_core_plus_margin(shape, tile, overlap, margin):
    tiles = plan_tiles(shape, tile, overlap, margin)
    assert len({t.read_shape for t in tiles}) == 1
    for t in tiles:
        assert t.read_shape[0] <= tile and t.read_shape[1] <= tile
        assert (t.y.crop0, t.x.crop0) == (margin, margin)
        assert t.y.read1 - t.y.core1 == margin
        assert 0 <= t.y.core0 < t.y.core1 <= shape[0]


def test_neighbour_overlap_is_blended_linearly():
    a, b = axis_tiles(100, 64, 32, 8)[:2]
    shared = slice(b.core0 - a.core0, a.core1 - a.core0)
    ramp_down = a.weights[shared]
    assert np.all(np.diff(ramp_down) < 0), "weights must fall linearly across the overlap"
    np.testing.assert_allclose(np.diff(ramp_down), np.diff(ramp_down)[0], atol=1e-9)
    assert a.core1 - b.core0 >= 32 - 2 * 8


@pytest.mark.parametrize(("tile", "overlap", "margin"), [(32, 40, 2), (32, 8, 10), (16, 20, 2)])
def test_impossible_geometry_is_refused(tile, overlap, margin):
    with pytest.raises(ValueError):
        axis_tiles(100, tile, overlap, margin)
