"""Shared fixtures: one synthetic 3:1 pair and one briefly trained small U-Net per test session."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402

from tests.models.synthetic import SyntheticPair, make_pair  # noqa: E402


@pytest.fixture(scope="session")
def pair() -> SyntheticPair:
    return make_pair((36, 96, 96), ratio=3, seed=0)


@pytest.fixture(scope="session")
def small_net():
    from models.config import NetworkConfig

    return NetworkConfig(depth=2, base_filters=8, head_layers=2)


@pytest.fixture(scope="session")
def quick_model(pair, small_net, tmp_path_factory):
    """A U-Net trained for a few iterations, saved to disk (model.keras, model.onnx)."""
    from models.config import TrainingConfig
    from models.train import train_model

    trained = train_model(
        pair.scout_on_zoom,
        pair.zoom,
        pair.mask,
        small_net,
        TrainingConfig(iterations=40, tile_px=48, validation_interval=20),
    )
    directory = tmp_path_factory.mktemp("quick_model")
    paths = trained.save(directory)
    return trained, paths
