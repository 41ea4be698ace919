"""The methods of the one-grid protocol, each trained on realisation A's R:1 pair and applied to B's R input.

- ``fdk``: B's FDK at resolution R (every method's input);
- ``cubic``: B's projections reconstructed on an R um grid, cubic-upsampled onto the 1 um grid;
- ``richardson_lucy``: 30 iterations with the true kernel (Gaussian, sigma R um) on ``fdk``;
- ``srcnn``: the 3D SRCNN baseline trained on A (R input -> 1 um FDK target), applied to ``fdk``;
- ``unet_<preset>``: the product's 2.5D U-Net with that preset's network and training, trained on A
  (``models.train.train_model``, its own validation slab and early stopping) and applied to ``fdk``
  by the product's streaming tiled inference (``pipeline.infer``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks.foam_study.paper_acquire import Realisation
from benchmarks.foam_study.paper_size import PaperSize

BASE_METHODS = ("fdk", "cubic", "richardson_lucy", "srcnn")
RL_ITERATIONS = 30


def method_names(size: PaperSize) -> tuple[str, ...]:
    return BASE_METHODS + tuple(f"unet_{p}" for p in size.unet_presets)


@dataclass
class MethodResult:
    """A method's volume on B's grid, its wall time (s) and what it was run with."""

    volume: np.ndarray
    seconds: float
    settings: dict[str, Any] = field(default_factory=dict)


class MethodUnavailable(RuntimeError):
    """The method cannot run here (e.g. a preset that does not exist yet); recorded, not fatal."""


class _InMemoryRuntime:
    """The trained Keras model as an inference runtime (``models.runtimes.base.InferenceRuntime``)."""

    name = "keras"

    def __init__(self, trained: Any) -> None:
        self.trained = trained
        self.multiple = trained.network.pad_multiple_px

    def predict(self, batch: np.ndarray) -> np.ndarray:
        from models.runtimes.base import pad_to_multiple

        padded, h, w = pad_to_multiple(batch, self.multiple)
        return self.trained.predict(padded)[:, :h, :w]


def preset_config(preset: str, iterations: int | None):
    """The product's ``ProcessConfig`` of ``preset`` (training iterations overridden if given)."""
    from pipeline.config import PRESETS, build_process_config

    if preset not in PRESETS:
        raise MethodUnavailable(f"preset {preset!r} is not defined in pipeline.config.PRESETS (have {sorted(PRESETS)})")
    overrides = {"training": {"iterations": iterations}} if iterations is not None else {}
    return build_process_config(preset, overrides)  # type: ignore[arg-type]


def unet(preset: str, a: Realisation, b: Realisation, ratio: float, size: PaperSize) -> MethodResult:
    from models.train import train_model
    from pipeline.infer.stream import infer_volume

    config = preset_config(preset, size.unet_iterations)
    t0 = time.perf_counter()
    trained = train_model(a.fdk[ratio], a.fdk[size.voxel_um], a.fov_mask, config.network, config.training)
    train_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    out = np.zeros(b.grid.shape_zyx, np.float32)
    stats = infer_volume(
        _InMemoryRuntime(trained),
        b.fdk[ratio],
        out,
        trained.normalisation,
        config.inference,
        slices=config.network.slices,
    )
    infer_s = time.perf_counter() - t1
    settings = {
        "preset": preset,
        "network": config.network.model_dump(mode="json"),
        "parameters": int(trained.model.count_params()),
        "iterations_planned": config.training.iterations,
        "iterations_run": trained.iterations_run,
        "best_iteration": trained.best_iteration,
        "stopped_early": trained.stopped_early,
        "tile_px": config.training.tile_px,
        "batch_size": config.training.batch_size,
        "train_s": train_s,
        "infer_s": infer_s,
        "runtime": stats.runtime,
        "validation_on_a": trained.validation.model_dump(mode="json") if trained.validation else None,
        "curve": [p.model_dump(mode="json") for p in trained.curve],
    }
    return MethodResult(out, train_s + infer_s, settings)


def srcnn(a: Realisation, b: Realisation, ratio: float, size: PaperSize) -> MethodResult:
    from models.config import SRCNNConfig
    from models.srcnn import train_srcnn
    from pipeline.baselines.srcnn import apply_srcnn

    config = SRCNNConfig(iterations=size.srcnn_iterations, tile_px=size.srcnn_tile_px)
    t0 = time.perf_counter()
    model = train_srcnn(a.fdk[ratio], a.fdk[size.voxel_um], a.fov_mask, config)
    volume = apply_srcnn(model, b.fdk[ratio])
    return MethodResult(volume, time.perf_counter() - t0, {**config.model_dump(mode="json"), "train_s": model.seconds})


def richardson_lucy(b: Realisation, ratio: float, size: PaperSize) -> MethodResult:
    from pipeline.baselines.richardson_lucy import richardson_lucy as rl

    sigma = ratio / size.voxel_um
    t0 = time.perf_counter()
    volume = rl(b.fdk[ratio], sigma, iterations=RL_ITERATIONS)
    return MethodResult(
        volume, time.perf_counter() - t0, {"psf_sigma_px": sigma, "iterations": RL_ITERATIONS, "kernel": "true"}
    )


def run_method(name: str, a: Realisation, b: Realisation, ratio: float, size: PaperSize) -> MethodResult:
    """One method at one ratio; times exclude the shared FDK of the input (recorded with the realisation)."""
    if name == "fdk":
        return MethodResult(b.fdk[ratio], 0.0, {"input_fdk_s": b.seconds.get(f"fdk_{ratio:g}")})
    if name == "cubic":
        return MethodResult(b.coarse_cubic[ratio], b.seconds[f"cubic_{ratio:g}"], {"coarse_voxel_um": ratio})
    if name == "richardson_lucy":
        return richardson_lucy(b, ratio, size)
    if name == "srcnn":
        return srcnn(a, b, ratio, size)
    if name.startswith("unet_"):
        return unet(name.removeprefix("unet_"), a, b, ratio, size)
    raise ValueError(f"unknown method {name!r}")
