"""Foam phantom: pore placement, size distribution, porosity, persistence."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from pipeline.simulate import Phantom, PhantomSettings, generate_phantom
from pipeline.simulate.phantom import pore_diameters_mm


@pytest.fixture(scope="module")
def foam() -> tuple[PhantomSettings, Phantom]:
    settings = PhantomSettings(pores=1000, porosity=0.25)
    return settings, generate_phantom(settings, np.random.default_rng(11))


def test_pores_are_disjoint_with_walls(foam: tuple[PhantomSettings, Phantom]) -> None:
    settings, phantom = foam
    centres, radii = phantom.pore_arrays()
    n = len(radii)
    i, j = np.triu_indices(n, k=1)
    gaps = pdist(centres) - radii[i] - radii[j]
    assert gaps.min() >= settings.min_wall_mm - 1e-12


def test_pores_lie_inside_the_cylinder(foam: tuple[PhantomSettings, Phantom]) -> None:
    settings, phantom = foam
    centres, radii = phantom.pore_arrays()
    lateral = np.hypot(centres[:, 0], centres[:, 1]) + radii
    vertical = np.abs(centres[:, 2]) + radii
    assert lateral.max() <= settings.radius_mm - settings.skin_mm + 1e-12
    assert vertical.max() <= settings.height_mm / 2 - settings.skin_mm + 1e-12


def test_count_porosity_and_broad_sizes(foam: tuple[PhantomSettings, Phantom]) -> None:
    settings, phantom = foam
    assert len(phantom.pores) == 1000
    assert phantom.porosity == pytest.approx(0.25, rel=1e-3)
    diameters = 2 * phantom.pore_arrays()[1]
    scout_voxel_mm = 0.02  # the default pair
    assert diameters.min() < scout_voxel_mm
    assert diameters.max() > 4 * scout_voxel_mm
    # pores are spread through the cylinder, not packed at one end
    z = phantom.pore_arrays()[0][:, 2]
    assert abs(np.mean(z)) < 0.1 * settings.height_mm


def test_mu_gives_line_integrals_of_order_one(foam: tuple[PhantomSettings, Phantom]) -> None:
    settings, phantom = foam
    assert phantom.mu_per_mm * 2 * settings.radius_mm == pytest.approx(settings.central_line_integral)


def test_json_round_trip(tmp_path, foam: tuple[PhantomSettings, Phantom]) -> None:
    _, phantom = foam
    phantom.save(tmp_path / "phantom.json")
    loaded = Phantom.load(tmp_path / "phantom.json")
    assert loaded == phantom


def test_same_seed_same_phantom_other_seed_differs() -> None:
    settings = PhantomSettings(pores=200)
    a = generate_phantom(settings, np.random.default_rng(1))
    b = generate_phantom(settings, np.random.default_rng(1))
    c = generate_phantom(settings, np.random.default_rng(2))
    assert a == b
    assert a != c


def test_unreachable_porosity_is_refused() -> None:
    settings = PhantomSettings(pores=20, porosity=0.4, max_pore_diameter_mm=0.2)
    with pytest.raises(ValueError, match="cannot make porosity"):
        pore_diameters_mm(settings, np.random.default_rng(0))
