from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from pipeline.evaluate.config import PoreConfig
from pipeline.evaluate.pore_match import TruthPore, match_pores, truth_in_region
from pipeline.evaluate.pores import analyse_pores


def _truth(spheres) -> list[TruthPore]:
    return [TruthPore(centre_mm=c, radius_mm=r) for c, r in spheres]


def test_finds_each_pore_with_its_centre_and_size(foam) -> None:
    grid, spheres, volume = foam
    rng = np.random.default_rng(0)
    noisy = volume + rng.normal(0, 0.05, volume.shape)
    result = analyse_pores(noisy, None, 0.01, grid=grid)
    # 8 separated + 2 touching, split apart; the cut pore is dropped.
    assert result.count == 10
    assert result.boundary_pores_removed == 1
    for centre, radius in spheres[:10]:
        distances = [math.dist(p.centroid_mm, centre) for p in result.pores]
        nearest = result.pores[int(np.argmin(distances))]
        assert min(distances) < 0.5 * 0.01 * 2
        assert nearest.equivalent_diameter_mm == pytest.approx(2 * radius, rel=0.08)
        assert 0.88 < nearest.sphericity < 1.02


def test_porosity_counts_every_pore_voxel(foam) -> None:
    grid, spheres, volume = foam
    result = analyse_pores(volume, None, 0.01, grid=grid)
    expected = sum(4 / 3 * math.pi * r**3 for _, r in spheres[:10])
    cut = spheres[10]
    # Part of the cut pore lies in the volume too: bound the porosity on both sides.
    region_mm3 = np.prod(grid.size_mm)
    assert expected / region_mm3 < result.porosity < (expected + 4 / 3 * math.pi * cut[1] ** 3) / region_mm3
    assert result.pore_voxels == pytest.approx(result.porosity * result.region_voxels)


def test_blurred_touching_pores_are_not_merged_nor_oversplit(foam) -> None:
    grid, _, volume = foam
    result = analyse_pores(ndimage.gaussian_filter(volume, 1.0), None, 0.01, grid=grid)
    assert result.count == 10


def test_mask_excludes_region_and_its_boundary_pores(foam) -> None:
    grid, _, volume = foam
    mask = np.zeros(volume.shape, dtype=bool)
    mask[:, :, :22] = True  # the -x side: 4 separated pores; the left touching pore is cut by the mask's edge
    result = analyse_pores(volume, mask, 0.01, grid=grid)
    assert result.count == 4
    assert all(p.centroid_mm[0] < grid.centre_mm[0] for p in result.pores)


def test_explicit_threshold_is_used(foam) -> None:
    grid, _, volume = foam
    assert analyse_pores(volume, None, 0.01, threshold=0.1).count == 0
    assert analyse_pores(volume, None, 0.01, threshold=0.6).threshold == 0.6


def test_size_distribution_sums_to_count(foam) -> None:
    grid, _, volume = foam
    result = analyse_pores(volume, None, 0.01, grid=grid)
    assert sum(result.size_distribution(np.linspace(0.0, 0.2, 9))) == result.count


def test_perfect_volume_recovers_every_eligible_pore(foam) -> None:
    grid, spheres, volume = foam
    recovery = match_pores(analyse_pores(volume, None, 0.01, grid=grid), _truth(spheres), grid)
    assert recovery.truth_count == 10  # the cut pore is not eligible
    assert recovery.recovered_fraction == 1.0
    assert recovery.false_pores == 0
    assert abs(recovery.diameter_error_mean) < 0.05


def test_hallucinated_and_missing_pores_are_counted(foam) -> None:
    grid, spheres, volume = foam
    truth = _truth(spheres)
    spoiled = volume.copy()
    spoiled[22:27, 5:10, 22:27] = 0.2  # a pore that is not in the truth
    first = np.round(grid.physical_to_index(np.array(spheres[0][0]))).astype(int)
    x, y, z = first
    spoiled[z - 6 : z + 7, y - 6 : y + 7, x - 6 : x + 7] = 1.0  # erase a true pore
    recovery = match_pores(analyse_pores(spoiled, None, 0.01, grid=grid), truth, grid)
    assert recovery.false_pores == 1
    assert recovery.matched == 9
    assert recovery.recovered_fraction == pytest.approx(0.9)


def test_wrong_size_does_not_match(foam) -> None:
    grid, spheres, volume = foam
    inflated = [TruthPore(centre_mm=c, radius_mm=r * 2.0) for c, r in spheres[:10]]
    found = analyse_pores(volume, None, 0.01, grid=grid)
    recovery = match_pores(found, inflated, grid, config=PoreConfig(size_factor=1.5))
    assert recovery.matched == 0
    assert recovery.false_pores == 0  # the found pores still lie inside truth pores


def test_truth_below_detection_limit_is_not_counted(foam) -> None:
    grid, _, _ = foam
    tiny = [TruthPore(centre_mm=grid.centre_mm, radius_mm=0.005), TruthPore(centre_mm=grid.centre_mm, radius_mm=0.03)]
    assert len(truth_in_region(tiny, grid, min_radius_mm=0.015)) == 1
