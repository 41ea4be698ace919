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
