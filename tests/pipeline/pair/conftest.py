"""A small simulated pair, made once per test session, and a fast CPU config."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.config import ProcessConfig, build_process_config
from pipeline.simulate import ScanSettings, SimulationConfig, simulate_pair

DETECTOR_PX = 64


def small_simulation(seed: int, **changes) -> SimulationConfig:
    """A 3:1 pair with 64-pixel detectors: seconds to simulate and reconstruct."""
    settings = {
        "seed": seed,
        "ratio": 3.0,
        "scout": ScanSettings(detector_px=DETECTOR_PX, angles=120, blur_sigma_px=1.0),
        "zoom": ScanSettings(detector_px=DETECTOR_PX, angles=120, blur_sigma_px=0.7, objective="20X", photons=8000),
    }
    return SimulationConfig(**(settings | changes))


def fast_config(cache_dir: Path | None = None, **training) -> ProcessConfig:
    """The small preset, trimmed further for tests."""
    overrides = {
        "training": {"iterations": 200, **training},
        "inference": {"tile_px": 64, "overlap_px": 8},
        "output": {"region": {"voxel_budget": 100**3}},
        "cache": {"enabled": cache_dir is not None, "directory": str(cache_dir) if cache_dir else None},
    }
    return build_process_config("small", overrides)


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<dir>/pair/{scout,zoom}`` and ``<dir>/truth`` for seed 11."""
    out = tmp_path_factory.mktemp("sim-a")
    simulate_pair(out, small_simulation(11))
    return out


@pytest.fixture(scope="session")
def other_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second sample (different seed): its zoom does not belong to the first scout."""
    out = tmp_path_factory.mktemp("sim-b")
    simulate_pair(out, small_simulation(12345))
    return out


@pytest.fixture
def pair_copy(simulated: Path, tmp_path: Path) -> Path:
    """A private copy of the simulated pair a test may damage."""
    target = tmp_path / "pair"
    shutil.copytree(simulated / "pair", target)
    return target
