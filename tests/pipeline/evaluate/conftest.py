"""Small synthetic volumes shared by the evaluation tests."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage


@pytest.fixture(scope="session")
def textured_volume() -> np.ndarray:
    """A 32^3 random blob texture in [0, 1] (structure at several scales, deterministic)."""
    rng = np.random.default_rng(7)
    noise = rng.standard_normal((32, 32, 32))
    volume = ndimage.gaussian_filter(noise, 1.2) + 0.5 * ndimage.gaussian_filter(noise, 3.0)
    volume -= volume.min()
    return volume / volume.max()


def render_spheres(grid, spheres, *, matrix: float = 1.0, pore: float = 0.2, supersample: int = 3) -> np.ndarray:
    """``grid``'s volume of a bright matrix with dark spherical pores ``(centre_mm xyz, radius_mm)``, partial-volume
    averaged."""
    from pipeline.grid import VolumeGrid

    assert isinstance(grid, VolumeGrid)
    z, y, x = grid.axis_coordinates()
    offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
    fine = [np.add.outer(axis, offsets * s).ravel() for axis, s in zip((z, y, x), grid.spacing_mm[::-1])]
    zz, yy, xx = np.meshgrid(*fine, indexing="ij")
    inside = np.zeros(zz.shape, dtype=bool)
    for (cx, cy, cz), radius in spheres:
        inside |= (xx - cx) ** 2 + (yy - cy) ** 2 + (zz - cz) ** 2 <= radius**2
    fraction = inside.reshape(
        grid.shape_zyx[0], supersample, grid.shape_zyx[1], supersample, grid.shape_zyx[2], supersample
    ).mean(axis=(1, 3, 5))
    return matrix + (pore - matrix) * fraction


@pytest.fixture(scope="session")
def foam():
    """(grid, spheres, volume) of :func:`make_foam`."""
    return make_foam()


def make_foam():
    """A 48^3 grid (10 um voxels) with 8 separated pores, 2 touching ones and one cut by the boundary."""
    from pipeline.grid import VolumeGrid

    grid = VolumeGrid.isotropic((48, 48, 48), 0.01, centre_mm=(0.1, -0.05, 0.2))
    cx, cy, cz = grid.centre_mm
    rng = np.random.default_rng(11)
    spheres = []
    for ix, iy, iz in [(i, j, k) for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)]:
        centre = (cx + ix * 0.11 + rng.uniform(-0.01, 0.01), cy + iy * 0.11 + rng.uniform(-0.01, 0.01), cz + iz * 0.11)
        spheres.append((centre, float(rng.uniform(0.035, 0.05))))
    spheres.append(((cx - 0.045, cy, cz), 0.04))  # two touching pores in the middle
    spheres.append(((cx + 0.045, cy, cz), 0.04))
    spheres.append(((cx + 0.235, cy + 0.0, cz), 0.03))  # cut by the +x face
    volume = render_spheres(grid, spheres)
    return grid, spheres, volume
