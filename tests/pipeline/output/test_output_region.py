"""The output region: the whole requested box unless the user sets a voxel budget (off by default)."""

from __future__ import annotations

import pytest

from pipeline.config import ProcessConfig, build_process_config
from pipeline.grid import VolumeGrid
from pipeline.region import output_placement

ZOOM = VolumeGrid.isotropic((20, 20, 20), 0.01)


def test_the_budget_is_off_by_default_for_the_standard_preset() -> None:
    assert ProcessConfig().output.region.voxel_budget is None
    assert build_process_config("small").output.region.voxel_budget == 160**3  # the CPU demo keeps its limit


@pytest.mark.parametrize("budget, clipped", [(None, False), (4 * 10**6, False), (10**6, True)])
def test_the_region_is_only_cut_by_a_budget_the_user_sets(budget: int | None, clipped: bool) -> None:
    placement = output_placement(ZOOM, centre_mm=None, size_mm=(1.6, 1.6, 1.2), voxel_budget=budget)

    assert placement.clipped_by_budget is clipped
    assert placement.requested_voxels == 162 * 162 * 122  # the box, extended to whole zoom voxels
    assert placement.grid.n_voxels == (placement.requested_voxels if not clipped else pytest.approx(10**6, rel=0.05))
    assert budget is None or placement.grid.n_voxels <= budget
