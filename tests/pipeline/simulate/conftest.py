"""Tiny simulated pairs shared by the simulator tests (32-pixel detectors, 24 angles)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.simulate import SimulationConfig, SimulationTruth, simulate_pair


def tiny_config(**overrides: object) -> SimulationConfig:
    """The default sample at 32 px: scout voxel 0.08 mm, 150 pores, 24 angles per scan."""
    values: dict = {
        "phantom": {"pores": 150, "porosity": 0.2},
        "scout": {"detector_px": 32, "angles": 24},
        "zoom": {"detector_px": 32, "angles": 24, "photons": 10000.0, "blur_sigma_px": 0.6, "objective": "20X"},
        "flat_frames": 4,
    }
    values.update(overrides)
    return SimulationConfig.model_validate(values)


@pytest.fixture(scope="session")
def tiny_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimulationTruth]:
    out = tmp_path_factory.mktemp("sim") / "run"
    return out, simulate_pair(out, tiny_config(seed=7))
