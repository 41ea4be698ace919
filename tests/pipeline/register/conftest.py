"""Small synthetic foam pairs (64^3) and their registration, made once per test session."""

from __future__ import annotations

import pytest

from pipeline.register import Registered
from pipeline.register.synthetic import SyntheticPair, make_pair
from tests.pipeline.register.pairs import HARD, run


@pytest.fixture(scope="session")
def pair_3to1() -> SyntheticPair:
    return make_pair(64, ratio=3.0, noise=0.03, seed=1, **HARD)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def pair_5to1_noisy() -> SyntheticPair:
    return make_pair(64, ratio=5.0, noise=0.1, seed=2, **HARD)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def registered_3to1(pair_3to1: SyntheticPair) -> Registered:
    return run(pair_3to1, reconstruct_scout=pair_3to1.reconstruct_scout)
