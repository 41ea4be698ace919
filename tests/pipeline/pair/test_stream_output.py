"""The output region streamed slab by slab into inference equals reconstructing it whole first."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from models.trained import Normalisation
from pipeline.config import ProcessConfig
from pipeline.pair import steps as pair_steps
from pipeline.pair.assess import outside_window
from pipeline.pair.model_step import ModelChoice
from pipeline.pair.run import OutputVolumes, reconstruct_output, recover
from pipeline.pair.stages import StageRunner
from tests.pipeline.infer.test_stream import ConvRuntime
from tests.pipeline.pair.conftest import fast_config

SLAB_Z = 8


def config_for(backend: str, stream: bool, fmt: str) -> ProcessConfig:
    config = fast_config()
    return config.model_copy(
        update={
            "reconstruction": config.reconstruction.model_copy(update={"backend": backend}),
            "output": config.output.model_copy(update={"stream_region": stream, "format": fmt, "zarr_chunk_z": 4}),
            "inference": config.inference.model_copy(update={"slab_z": SLAB_Z}),
        }
    )


def run_output(simulated: Path, tmp_path: Path, config: ProcessConfig, name: str) -> tuple[OutputVolumes, np.ndarray]:
    """Place the region (the zoom box at the stage prior stands in for the registered grid), reconstruct the scout
    on it and run a small fixed 'network' over it, as run_pair does; the recovered volume as an array."""
    scans = pair_steps.read_pair(simulated / "pair")
    work, out = tmp_path / name / "work", tmp_path / name / "out"
    work.mkdir(parents=True)
    grid = pair_steps.scout_box_grid(scans, pair_steps.zoom_native_grid(scans.zoom))
    registered = SimpleNamespace(result=SimpleNamespace(zoom_grid_in_scout=grid))
    runner = StageRunner(None, None)
    filtered = pair_steps.prefilter(scans.scout, config, work, "scout")
    output = reconstruct_output(scans, registered, config, runner, work, filtered)  # type: ignore[arg-type]
    model = ModelChoice(
        id="conv",
        reused=False,
        runtime=ConvRuntime(config.network.slices),
        normalisation=Normalisation(offset=0.0, scale=2.0),
        directory=tmp_path / "no-model",
        decision="test",
    )
    recover(output, model, config, runner, out, work, "pair")
    return output, np.asarray(output.recovered[:])  # type: ignore[index]


@pytest.mark.parametrize(("backend", "fmt"), [("numba", "ome-tiff"), ("numba", "ome-zarr"), ("rtk", "ome-tiff")])
def test_streamed_output_equals_the_whole_region(simulated: Path, tmp_path: Path, backend: str, fmt: str) -> None:
    whole, expected = run_output(simulated, tmp_path, config_for(backend, False, fmt), "whole")
    streamed, recovered = run_output(simulated, tmp_path, config_for(backend, True, fmt), "streamed")
    assert streamed.streamer is not None and whole.streamer is None
    assert not (tmp_path / "streamed" / "work" / "scout_output_region.npy").exists()  # never held whole
    assert streamed.plan.needs_bytes < whole.plan.needs_bytes  # no scratch copy of the region's scout planned
    scale = float(np.abs(expected).max())
    assert np.abs(recovered - expected).max() <= 1e-5 * scale
    w0, w1 = outside_window(whole.placement.grid.shape_zyx[0])
    assert streamed.scout_window is not None and whole.scout_window is not None
    assert streamed.scout_window.shape[0] == w1 - w0
    range_ = float(np.ptp(whole.scout.volume))
    assert np.abs(streamed.scout_window - whole.scout_window).max() <= 1e-5 * range_
    np.testing.assert_array_equal(streamed.scout.mask, whole.scout.mask)
    info, reference = streamed.scout.info, whole.scout.info
    assert info is not None and reference is not None
    assert info.backend == reference.backend == backend
    assert info.shape_zyx == reference.shape_zyx and info.projections == reference.projections
    nz = whole.placement.grid.shape_zyx[0]
    assert info.slabs >= -(-nz // SLAB_Z) and info.voxel_updates_per_s > 0
    assert streamed.inference is not None and streamed.inference.read_seconds > 0
