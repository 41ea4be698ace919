"""Time the simulator: the default small pair (128 px) and a 256-px pair.

Writes ``benchmarks/results/simulate_pair.json``. Run from the repository root:
``python benchmarks/simulate_pair.py [--only small]``. Numba compilation is
done (and timed) once before the measured runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

from pipeline.simulate import SimulationConfig, generate_phantom, simulate_pair, voxelise
from pipeline.simulate.geometry import pair_geometry
from pipeline.simulate.pair import _truth
from pipeline.simulate.project import project_transmission

RESULTS = Path(__file__).parent / "results" / "simulate_pair.json"
CASES = {
    "small": {},
    "256px": {
        "scout": {"detector_px": 256, "angles": 360},
        "zoom": {"detector_px": 256, "angles": 360, "photons": 10000.0, "blur_sigma_px": 0.6, "objective": "20X"},
    },
}


def _timed(function, *args, **kwargs) -> tuple[object, float]:
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def run_case(name: str, overrides: dict) -> dict:
    config = SimulationConfig.model_validate({"seed": 1, **overrides})
    rngs = np.random.default_rng(0), np.random.default_rng(1)
    phantom, phantom_s = _timed(generate_phantom, config.phantom, rngs[0])
    geometry = pair_geometry(config, rngs[1])
    truth = _truth(config, phantom, geometry)
    stages = {"phantom_s": phantom_s}
    for role, meta, rotation in (
        ("scout", geometry.scout, None),
        ("zoom", geometry.zoom_true, geometry.mount_rotation),
    ):
        _, stages[f"project_{role}_s"] = _timed(
            project_transmission, phantom, meta, mount_rotation=rotation, supersample=config.projection_supersample
        )
    for grid_name in ("scout", "zoom", "context"):
        grid = getattr(truth.grids, grid_name)
        _, stages[f"voxelise_{grid_name}_s"] = _timed(voxelise, phantom, grid, config.truth_supersample)
    with tempfile.TemporaryDirectory() as tmp:
        _, total_s = _timed(simulate_pair, Path(tmp) / name, config)
        written = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
    return {
        "detector_px": config.scout.detector_px,
        "angles": config.scout.angles,
        "pores": len(phantom.pores),
        "projection_supersample": config.projection_supersample,
        "truth_supersample": config.truth_supersample,
        "truth_voxels": {g: getattr(truth.grids, g).n_voxels for g in ("scout", "zoom", "context")},
        "simulate_pair_s": round(total_s, 3),
        "stages": {k: round(v, 3) for k, v in stages.items()},
        "written_mb": round(written / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=sorted(CASES))
    args = parser.parse_args()
    warm = SimulationConfig.model_validate(
        {
            "scout": {"detector_px": 16, "angles": 2},
            "zoom": {"detector_px": 16, "angles": 2},
            "phantom": {"pores": 50, "porosity": 0.05},
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        _, compile_s = _timed(simulate_pair, Path(tmp), warm)
    results = {
        "benchmark": "simulate_pair",
        "machine": {
            "cpus": os.cpu_count(),
            "numba_threads": numba.get_num_threads(),
            "python": platform.python_version(),
        },
        "warm_up_s": round(compile_s, 3),
        "cases": {name: run_case(name, overrides) for name, overrides in CASES.items() if args.only in (None, name)},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
