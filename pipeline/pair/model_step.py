"""Get a model for a pair: reuse a cached one that passes validation, or train (then cache it).

The cache's decision flow itself (match -> verify -> validate) is :func:`models.cache.select.select_model`;
this module supplies the pair's data and the training, and records the decision.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from pipeline.config import ProcessConfig
from pipeline.pair.conditions import match_query
from pipeline.pair.steps import PairScans
from pipeline.pair.stages import StageRunner


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


def load_modelload_model_runtime(directory: Path, config: ProcessConfig):
    """The inference runtime of a saved model folder (``model.onnx``, ``model.keras``), as configured."""
    from models.runtimes import load_runtime

    return loadload_model_runtime(directory / "model.onnx", keras_path=directory / "model.keras", prefer=config.inference.runtime)


def obtain_model(
    scans: PairScans, inputs: np.ndarray, target: np.ndarray, mask: np.ndarray, slab: tuple[int, int],
    config: ProcessConfig, runner: StageRunner, work_dir: Path, *, baseline: np.ndarray | None = None,
) -> ModelChoice:
    """Train a model for this pair, or reuse one from the cache when the cache is enabled.

    ``baseline`` (cubic upsampling of the scout on the zoom grid) must be beaten by a reused model.
    """
    if config.cache.enabled and config.cache.directory is not None:
        return obtain_with_cache(scans, inputs, target, mask, slab, config, runner, work_dir, baseline=baseline)
    trained, directory = train_new(inputs, target, mask, slab, config, runner, work_dir)
    return ModelChoice(
        id=file_id(directory / "model.onnx"), reused=False, runtime=load_model_runtime(directory, config),
        normalisation=trained.normalisation, directory=directory, decision="trained (no model cache configured)",
        curve=list(trained.curve), validation=trained.validation, parameters=int(trained.model.count_params()),
    )


def obtain_with_cache(
    scans: PairScans, inputs: np.ndarray, target: np.ndarray, mask: np.ndarray, slab: tuple[int, int],
    config: ProcessConfig, runner: StageRunner, work_dir: Path, *, baseline: np.ndarray | None = None,
) -> ModelChoice:
    from models.cache.card import array_fingerprint, card_from_trained
    from models.cache.select import select_model
    from models.cache.store import ModelCache
    from models.cache.validate import validate_candidate
    from pipeline.pair.assess import predict_volume

    cache = ModelCache(Path(config.cache.directory), config.cache)
    query = match_query(scans.scout.meta, scans.zoom.meta, slices=config.network.slices, sample_class=config.cache.sample_class)

    def validate(card):
        directory = cache.path(card.id)
        candidate = SimpleNamespace(runtime=load_model_runtime(directory, config), normalisation=card.normalisation)
        return validate_candidate(card, lambda volume: predict_volume(candidate, volume, config), inputs, target, mask,
                                  config.cache.validation, baseline=baseline)

    with runner.stage("cache"):
        decision = select_model(cache, query, validate, config.cache, training_iterations=config.training.iterations,
                                progress=runner.inner, cancel=runner.cancel)
    if decision.action == "reuse" and decision.model_id is not None:
        card = cache.get(decision.model_id)
        directory = cache.path(card.id)
        return ModelChoice(
            id=card.id, reused=True, runtime=load_model_runtime(directory, config), normalisation=card.normalisation,
            directory=directory, decision=decision.reason, curve=list(card.curve), validation=card.validation,
            cache_decision=decision.model_dump(mode="json"),
        )
    init = cache.path(decision.finetune_from) / "model.keras" if decision.action == "finetune" and decision.finetune_from else None
    trained, directory = train_new(inputs, target, mask, slab, config, runner, work_dir, init_weights=init,
                                   iterations=decision.finetune_iterations if init is not None else None)
    card = card_from_trained(trained, query.scout, query.zoom, sample_class=query.sample_class,
                             training_data_fingerprint=array_fingerprint(inputs, target), finetuned_from=decision.finetune_from if init else None)
    model_id = cache.add(directory, card)
    cache.evict_to_limit(keep=[model_id])
    stored = cache.path(model_id)
    action = "fine-tuned" if init is not None else "trained"
    return ModelChoice(
        id=model_id, reused=False, runtime=load_model_runtime(stored, config), normalisation=trained.normalisation, directory=stored,
        decision=f"{action}: {decision.reason}", curve=list(trained.curve), validation=trained.validation,
        parameters=int(trained.model.count_params()), cache_decision=decision.model_dump(mode="json"),
    )
