"""One ratio through the product: simulate projections, then ``process_pair``.

The pipeline reconstructs, registers, calibrates, trains the U-Net and
recovers the evaluation region (an explicit output region outside the zoom);
``keep_intermediates`` leaves the FDK volumes the baselines need.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.foam_study.data import StudySize
from pipeline.config import ProcessConfig, build_process_config
from pipeline.grid import VolumeGrid
from pipeline.output.volumes import read_ome_grid
from pipeline.pair.process import process_pair
from pipeline.simulate import Phantom, load_truth, simulate_pair, voxelise


@dataclass
class ProcessedPair:
    """Paths and grids of one processed ratio, and the truth on the recovered grid."""

    ratio: float
    root: Path
    config: ProcessConfig
    phantom: Phantom
    grid: VolumeGrid  # the recovered (evaluation) grid, scout frame
    truth: np.ndarray  # attenuation (1/mm) voxelised on ``grid``
    seconds: dict[str, float]  # simulate, process and the pipeline's stage timings

    @property
    def pair_dir(self) -> Path:
        return self.root / "sim" / "pair"

    @property
    def out_dir(self) -> Path:
        return self.root / "out"


def process_config(size: StudySize, preset: str | None = None) -> ProcessConfig:
    """The product's preset (the size's unless named) with the evaluation region as output region, intermediates kept,
    no model cache."""
    overrides: dict = {
        "cache": {"enabled": False},
        "output": {
            "keep_intermediates": True,
            "region": {"centre_mm": size.eval_centre_mm(), "size_mm": size.eval_size_mm()},
        },
    }
    if size.unet_iterations is not None and preset in (None, size.preset):
        overrides["training"] = {"iterations": size.unet_iterations}
    return build_process_config(preset or size.preset, overrides)


def process_again(pair: ProcessedPair, preset: str) -> tuple[Path, dict[str, float]]:
    """The same simulated pair through the product with another preset, into ``root/out_<preset>``: the output folder
    and the stage seconds from its report (the grid and the evaluation region are the same)."""
    import json

    out = pair.root / f"out_{preset}"
    outcome = process_pair(pair.pair_dir, out, process_config_for(pair, preset), force=True)
    if outcome.status != "done":
        raise RuntimeError(f"pipeline ({preset}) failed at R={pair.ratio:g}, stage {outcome.stage}: {outcome.message}")
    report = json.loads((out / "report.json").read_text())
    return out, {name: t["seconds"] for name, t in report["stages"].items()}


def process_config_for(pair: ProcessedPair, preset: str) -> ProcessConfig:
    """``pair``'s config with another preset's network and training (region and outputs unchanged)."""
    base = pair.config.model_dump(mode="json")
    tables = {key: base[key] for key in ("cache", "output")}
    return build_process_config(preset, tables)


def run_pair(size: StudySize, ratio: float, seed: int, root: Path, log=print) -> ProcessedPair:
    """Simulate and process one ratio under ``root``; raises if the pipeline fails."""
    root = Path(root)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    simulate_pair(root / "sim", size.simulation(ratio, seed), overwrite=True)
    seconds["simulate"] = time.perf_counter() - t0
    config = process_config(size)
    t0 = time.perf_counter()
    outcome = process_pair(root / "sim" / "pair", root / "out", config, force=True)
    seconds["process"] = time.perf_counter() - t0
    if outcome.status != "done":
        raise RuntimeError(f"pipeline failed at R={ratio:g} in stage {outcome.stage}: {outcome.message}")
    import json

    report = json.loads((root / "out" / "report.json").read_text())
    seconds |= {f"stage_{name}": t["seconds"] for name, t in report["stages"].items()}
    log(f"R={ratio:g}: simulated in {seconds['simulate']:.0f} s, processed in {seconds['process']:.0f} s")
    _, phantom = load_truth(root / "sim" / "truth")
    grid = read_ome_grid(root / "out" / "recovered.ome.tif")
    truth = voxelise(phantom, grid, 2)
    return ProcessedPair(
        ratio=ratio, root=root, config=config, phantom=phantom, grid=grid, truth=truth, seconds=seconds
    )
