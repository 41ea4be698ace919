"""Get a model for a pair: reuse a cached one that passes validation, or train (then cache it)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.config import ProcessConfig
from pipeline.pair_steps import PairScans
from pipeline.stages import StageRunner


@dataclass
class ModelChoice:
    """The model a pair is recovered with, and why."""

    id: str
    reused: bool
    runtime: Any  # models.runtimes.InferenceRuntime
    normalisation: Any  # models.trained.Normalisation
    directory: Path
    decision: str
    curve: list[Any] = field(default_factory=list)
    validation: Any = None
    parameters: int | None = None
    cache_decision: dict[str, Any] | None = None


def file_id(path: Path) -> str:
    """A short content id for a model file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def train_new(
    inputs: np.ndarray, target: np.ndarray, mask: np.ndarray, slab: tuple[int, int], config: ProcessConfig,
    runner: StageRunner, work_dir: Path, *, init_weights: Path | None = None, iterations: int | None = None,
):
    """Train on the registered pair (held-out slab never trained on) and save it under ``work_dir/model``."""
    from models.train import train_model

    training = config.training if iterations is None else config.training.model_copy(update={"iterations": iterations})
    with runner.stage("train"):
        trained = train_model(inputs, target, mask, config.network, training, validation_z=slab,
                              init_weights=init_weights, progress=runner.inner, cancel=runner.cancel)
        directory = work_dir / "model"
        trained.save(directory)
    return trained, directory


def _runtime(directory: Path, config: ProcessConfig):
    from models.runtimes import load_runtime

    return load_runtime(directory / "model.onnx", keras_path=directory / "model.keras", prefer=config.inference.runtime)


def obtain_model(
    scans: PairScans, inputs: np.ndarray, target: np.ndarray, mask: np.ndarray, slab: tuple[int, int],
    config: ProcessConfig, runner: StageRunner, work_dir: Path, *, baseline: np.ndarray | None = None,
) -> ModelChoice:
    """Train a model for this pair (the cache, when enabled, is consulted in :mod:`pipeline.cache_step`).

    ``baseline`` (cubic upsampling of the scout on the zoom grid) must be beaten by a reused model.
    """
    if config.cache.enabled and config.cache.directory is not None:
        from pipeline.cache_step import obtain_with_cache

        return obtain_with_cache(scans, inputs, target, mask, slab, config, runner, work_dir, baseline=baseline)
    trained, directory = train_new(inputs, target, mask, slab, config, runner, work_dir)
    return ModelChoice(
        id=file_id(directory / "model.onnx"), reused=False, runtime=_runtime(directory, config),
        normalisation=trained.normalisation, directory=directory, decision="trained (no model cache configured)",
        curve=list(trained.curve), validation=trained.validation, parameters=int(trained.model.count_params()),
    )
