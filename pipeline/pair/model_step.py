"""Get a model for a pair: reuse a cached one that passes validation, or train (then cache it).

The cache's decision flow itself (match -> verify -> validate) is :func:`models.cache.select.select_model`;
this module supplies the pair's data and the training, and records the decision. A reused
candidate is validated on the pair's test slab, and a new model's card records its figures
on its own test slab, so the cache compares like with like and never with the slab that
chose the model.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.cache.select import CacheDecision
from models.cache.store import ModelCache
from models.runtimes import EngineCallback, InferenceRuntime
from models.trained import CurvePoint, Normalisation, TrainedModel, ValidationFigures
from pipeline.config import ProcessConfig
from pipeline.pair.conditions import match_query
from pipeline.pair.heldout import HeldoutSlabs, slab_figures
from pipeline.pair.stages import StageRunner
from pipeline.pair.steps import PairScans


@dataclass(frozen=True)
class ModelInputs:
    """What a model is trained and judged on: the registered scout, the calibrated zoom and their valid
    region on the zoom grid, the held-out slabs, and the cubic baseline a reused model must beat."""

    inputs: np.ndarray
    target: np.ndarray
    mask: np.ndarray
    slabs: HeldoutSlabs
    baseline: np.ndarray | None = None


@dataclass
class ModelChoice:
    """The model a pair is recovered with, and why. ``validation``: a trained model's figures on the
    validation slab that chose it; a reused model's card figures (its own pair's test slab)."""

    id: str
    reused: bool
    runtime: InferenceRuntime
    normalisation: Normalisation
    directory: Path
    decision: str
    curve: list[CurvePoint] = field(default_factory=list)
    validation: ValidationFigures | None = None
    parameters: int | None = None
    cache_decision: CacheDecision | None = None


def file_id(path: Path) -> str:
    """A short content id for a model file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def load_model_runtime(
    directory: Path, config: ProcessConfig, on_engine_built: EngineCallback | None = None
) -> InferenceRuntime:
    """The inference runtime of a saved model folder (``model.onnx``, ``model.keras``), as configured.

    ``on_engine_built`` hears of each TensorRT engine written into the folder (a cache entry lists it on its card).
    """
    from models.runtimes import load_runtime

    return load_runtime(
        directory / "model.onnx",
        keras_path=directory / "model.keras",
        prefer=config.inference.runtime,
        threads=config.inference.threads,
        on_engine_built=on_engine_built,
    )


def _engine_recorder(cache: ModelCache, model_id: str) -> EngineCallback:
    """Lists a TensorRT engine built inside a cache entry on the entry's card."""

    def record(path: Path, shape: tuple[int, ...], precision: str) -> None:
        cache.register_engine(model_id, path, "tensorrt", tile_shape=shape, precision=precision)

    return record


def predictor(runtime: InferenceRuntime, normalisation: Normalisation, config: ProcessConfig):
    """``volume -> prediction`` with the output's tiling (for validation and assessment on in-memory volumes)."""
    from pipeline.infer.stream import infer_volume

    def predict(volume: np.ndarray) -> np.ndarray:
        out = np.zeros(volume.shape, np.float32)
        infer_volume(
            runtime, np.asarray(volume, np.float32), out, normalisation, config.inference, slices=config.network.slices
        )
        return out

    return predict


def train_new(
    data: ModelInputs,
    config: ProcessConfig,
    runner: StageRunner,
    work_dir: Path,
    *,
    init_weights: Path | None = None,
    iterations: int | None = None,
) -> tuple[TrainedModel, Path]:
    """Train below the test slab (validation slab for model selection) and save under ``work_dir/model``."""
    from models.train import train_model

    training = config.training if iterations is None else config.training.model_copy(update={"iterations": iterations})
    stop = data.slabs.train_stop
    with runner.stage("train"):
        trained = train_model(
            data.inputs[:stop],
            data.target[:stop],
            data.mask[:stop],
            config.network,
            training,
            validation_z=data.slabs.validation,
            init_weights=init_weights,
            progress=runner.inner,
            cancel=runner.cancel,
        )
        directory = work_dir / "model"
        trained.save(directory)
    return trained, directory


def test_slab_figures(
    runtime: InferenceRuntime, normalisation: Normalisation, data: ModelInputs, config: ProcessConfig
) -> ValidationFigures:
    """A model's PSNR/SSIM (and its input's) on the pair's test slab."""
    return slab_figures(
        predictor(runtime, normalisation, config),
        data.inputs,
        data.target,
        data.mask,
        data.slabs.test,
        context=config.network.slices // 2,
    )


def obtain_model(
    data: ModelInputs, scans: PairScans, config: ProcessConfig, runner: StageRunner, work_dir: Path
) -> ModelChoice:
    """Train a model for this pair, or reuse one from the cache when the cache is enabled."""
    if config.cache.enabled and config.cache.directory is not None:
        return obtain_with_cache(data, scans, config, runner, work_dir)
    trained, directory = train_new(data, config, runner, work_dir)
    return ModelChoice(
        id=file_id(directory / "model.onnx"),
        reused=False,
        runtime=load_model_runtime(directory, config),
        normalisation=trained.normalisation,
        directory=directory,
        decision="trained (no model cache configured)",
        curve=list(trained.curve),
        validation=trained.validation,
        parameters=int(trained.model.count_params()),
    )


def _test_slab_with_context(
    data: ModelInputs, context: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """The test slab plus ``context`` input slices either side; the context slices are outside the mask."""
    z0, z1 = data.slabs.test
    lo, hi = max(0, z0 - context), min(data.inputs.shape[0], z1 + context)
    mask = data.mask[lo:hi].copy()
    mask[: z0 - lo] = False
    mask[z1 - lo :] = False
    baseline = data.baseline[lo:hi] if data.baseline is not None else None
    return data.inputs[lo:hi], data.target[lo:hi], mask, baseline


def obtain_with_cache(
    data: ModelInputs, scans: PairScans, config: ProcessConfig, runner: StageRunner, work_dir: Path
) -> ModelChoice:
    """Reuse a cached model that passes validation on this pair's test slab, else fine-tune or train and cache."""
    from models.cache.card import array_fingerprint, card_from_trained
    from models.cache.select import select_model
    from models.cache.validate import validate_candidate

    cache = ModelCache(Path(config.cache.directory), config.cache)  # type: ignore[arg-type]
    query = match_query(
        scans.scout.meta, scans.zoom.meta, slices=config.network.slices, sample_class=config.cache.sample_class
    )
    inputs, target, mask, baseline = _test_slab_with_context(data, config.network.slices // 2)

    def validate(card):
        runtime = load_model_runtime(cache.path(card.id), config)
        return validate_candidate(
            card,
            predictor(runtime, card.normalisation, config),
            inputs,
            target,
            mask,
            config.cache.validation,
            baseline=baseline,
        )

    with runner.stage("cache"):
        decision = select_model(
            cache,
            query,
            validate,
            config.cache,
            training_iterations=config.training.iterations,
            progress=runner.inner,
            cancel=runner.cancel,
        )
    if decision.action == "reuse" and decision.model_id is not None:
        card = cache.get(decision.model_id)
        directory = cache.path(card.id)
        return ModelChoice(
            id=card.id,
            reused=True,
            runtime=load_model_runtime(directory, config, _engine_recorder(cache, card.id)),
            normalisation=card.normalisation,
            directory=directory,
            decision=decision.reason,
            curve=list(card.curve),
            validation=card.validation,
            cache_decision=decision,
        )
    init = (
        cache.path(decision.finetune_from) / "model.keras"
        if decision.action == "finetune" and decision.finetune_from
        else None
    )
    trained, directory = train_new(
        data,
        config,
        runner,
        work_dir,
        init_weights=init,
        iterations=decision.finetune_iterations if init is not None else None,
    )
    runtime = load_model_runtime(directory, config)
    card = card_from_trained(
        trained,
        query.scout,
        query.zoom,
        sample_class=query.sample_class,
        validation=test_slab_figures(runtime, trained.normalisation, data, config),
        training_data_fingerprint=array_fingerprint(data.inputs, data.target),
        finetuned_from=decision.finetune_from if init else None,
    )
    model_id = cache.add(directory, card)
    cache.evict_to_limit(keep=[model_id])
    stored = cache.path(model_id)
    action = "fine-tuned" if init is not None else "trained"
    return ModelChoice(
        id=model_id,
        reused=False,
        runtime=load_model_runtime(stored, config, _engine_recorder(cache, model_id)),
        normalisation=trained.normalisation,
        directory=stored,
        decision=f"{action}: {decision.reason}",
        curve=list(trained.curve),
        validation=trained.validation,
        parameters=int(trained.model.count_params()),
        cache_decision=decision,
    )
