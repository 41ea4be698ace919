"""Shared small scans (analytic projections, contract frame) for the reconstruction tests."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("ITK_GLOBAL_DEFAULT_THREADER", "Pool")
os.environ.setdefault("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS", "2")

from pipeline.acquisition.scan import Scan  # noqa: E402
from pipeline.grid import VolumeGrid  # noqa: E402
from tests.pipeline.reconstruct.phantoms import Cylinder, Sphere, make_meta, make_scan  # noqa: E402

SPHERE = Sphere((0.2, -0.15, 0.1), 0.1, 1.0)


def centroid_mm(volume: np.ndarray, grid: VolumeGrid, threshold: float) -> np.ndarray:
    """Intensity-weighted centre (x, y, z mm) of the voxels above ``threshold``."""
    weights = np.where(volume > threshold, volume, 0.0)
    points = grid.voxel_centres()
    return (points * weights[..., None]).sum(axis=(0, 1, 2)) / weights.sum()


@pytest.fixture(scope="session")
def sphere_scan() -> Scan:
    """A full-turn scout (64x64 detector, 180 angles) of an off-centre sphere, principal point off-centre."""
    return make_scan(make_meta(angles=180, offset_px=(1.5, -2.0)), [SPHERE])


@pytest.fixture(scope="session")
def cylinder_scan() -> Scan:
    """A uniform, tall cylinder (mu 1/mm, radius 0.45 mm) inside the field of view (radius 0.64 mm)."""
    return make_scan(make_meta(angles=180), [Cylinder((0.0, 0.0, 0.0), 0.45, 20.0, 1.0)])
