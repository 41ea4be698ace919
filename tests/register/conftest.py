"""Small synthetic foam pairs (64^3) and their registrations, made once per test session."""

from __future__ import annotations

import pytest

from pipeline.register import Registered, RegistrationConfig, register_scout_to_zoom
from pipeline.register.synthetic import SyntheticPair, make_pair

# Stage error up to 5 % of the 0.64 mm field of view per axis, ~2 deg rotation, 2 % scale error.
HARD = dict(stage_error_mm=(0.032, -0.030, 0.025), rotation_deg=(0.6, -1.0, 1.5), scale=(1.02, 0.985, 1.01))
# Fewer metric samples than the default (sized for 128^3 and up) keep these 64^3 runs to a few seconds.
CONFIG = RegistrationConfig(threads=2, metric_samples=20_000)


def run(pair: SyntheticPair, config: RegistrationConfig = CONFIG, **kwargs: object) -> Registered:
    return register_scout_to_zoom(
        pair.zoom, pair.zoom_mask, pair.zoom_grid, pair.scout, pair.scout_mask, pair.scout_box_grid, config, **kwargs  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
def pair_3to1() -> SyntheticPair:
    return make_pair(64, ratio=3.0, noise=0.03, seed=1, **HARD)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def pair_5to1_noisy() -> SyntheticPair:
    return make_pair(64, ratio=5.0, noise=0.1, seed=2, **HARD)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def registered_3to1(pair_3to1: SyntheticPair) -> Registered:
    return run(pair_3to1, reconstruct_scout=pair_3to1.reconstruct_scout)
