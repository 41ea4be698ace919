"""Voxelised truth: porosity, partial volumes, any grid (rotated, anisotropic)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from pipeline.grid import VolumeGrid
from pipeline.simulate import Cylinder, Phantom, PhantomSettings, Pore, generate_phantom, voxelise


@pytest.mark.parametrize("supersample", [1, 2])
def test_voxelised_porosity_matches_the_analytic_one(supersample: int) -> None:
    phantom = generate_phantom(PhantomSettings(pores=1000, porosity=0.2), np.random.default_rng(5))
    grid = VolumeGrid.isotropic((104, 104, 104), 0.02)  # the default scout voxel, whole sample
    volume = voxelise(phantom, grid, supersample)
    solid_mm3 = float(volume.sum(dtype=np.float64)) / phantom.mu_per_mm * 0.02**3
    porosity = 1.0 - solid_mm3 / phantom.cylinder.volume_mm3
    assert porosity == pytest.approx(phantom.porosity, rel=0.03)
    assert volume.min() >= 0.0
    assert volume.max() == pytest.approx(phantom.mu_per_mm)


def test_partial_volumes_come_in_steps_of_one_over_s_cubed() -> None:
    phantom = Phantom(
        cylinder=Cylinder(radius_mm=1.0, height_mm=2.0),
        mu_per_mm=2.0,
        pores=[Pore(centre_mm=(0.0, 0.0, 0.0), radius_mm=0.1)],
    )
    volume = voxelise(phantom, VolumeGrid.isotropic((16, 16, 16), 0.02), 3)
    fractions = volume / 2.0 * 27
    assert np.allclose(fractions, np.round(fractions), atol=1e-4)
    assert ((volume > 0) & (volume < 2.0)).any()  # the pore wall cuts voxels


def test_any_grid_rotated_and_anisotropic() -> None:
    pore = Pore(centre_mm=(0.11, -0.07, 0.05), radius_mm=0.06)
    phantom = Phantom(cylinder=Cylinder(radius_mm=1.0, height_mm=2.0), mu_per_mm=1.0, pores=[pore])
    direction = Rotation.from_rotvec([0.3, -0.2, 0.5]).as_matrix()
    spacing = (0.006, 0.008, 0.01)
    grid = VolumeGrid(
        shape_zyx=(24, 30, 40), spacing_mm=spacing, centre_mm=(0.1, -0.06, 0.06), direction=tuple(direction.ravel())
    )
    deficit = 1.0 - voxelise(phantom, grid, 4).astype(np.float64)  # 1 inside the pore, 0 in the solid
    voxel_mm3 = math.prod(spacing)
    assert deficit.sum() * voxel_mm3 == pytest.approx(4 / 3 * math.pi * pore.radius_mm**3, rel=0.02)
    centroid = (grid.voxel_centres() * deficit[..., None]).sum(axis=(0, 1, 2)) / deficit.sum()
    assert centroid == pytest.approx(pore.centre_mm, abs=0.2 * min(spacing))


def test_outside_the_cylinder_is_empty() -> None:
    phantom = Phantom(cylinder=Cylinder(radius_mm=0.5, height_mm=1.0), mu_per_mm=1.0)
    above = VolumeGrid.isotropic((4, 8, 8), 0.05, centre_mm=(0.0, 0.0, 0.7))
    assert not voxelise(phantom, above).any()


def test_supersample_must_be_positive() -> None:
    phantom = Phantom(cylinder=Cylinder(radius_mm=0.5, height_mm=1.0), mu_per_mm=1.0)
    with pytest.raises(ValueError, match="supersample"):
        voxelise(phantom, VolumeGrid.isotropic((2, 2, 2), 0.1), 0)
