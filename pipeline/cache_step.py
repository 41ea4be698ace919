"""Model selection through the cache: reuse a validated match, else fine-tune or train, then store.

The decision flow itself (match -> verify -> validate) is :func:`models.cache.select.select_model`;
this module supplies the pair's data and the training, and records the decision.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from pipeline.config import ProcessConfig
from pipeline.model_step import ModelChoice, _runtime, train_new
from pipeline.pair_steps import PairScans
from pipeline.stages import StageRunner


def _normalisation(card):
    from models.trained import Normalisation

    return Normalisation(offset=card.normalisation.offset, scale=card.normalisation.scale)


def obtain_with_cache(
    scans: PairScans, inputs: np.ndarray, target: np.ndarray, mask: np.ndarray, slab: tuple[int, int],
    config: ProcessConfig, runner: StageRunner, work_dir: Path, *, baseline: np.ndarray | None = None,
) -> ModelChoice:
    from models.cache.card import array_fingerprint, card_from_trained
    from models.cache.matching import MatchQuery
    from models.cache.select import select_model
    from models.cache.store import ModelCache
    from models.cache.validate import validate_candidate
    from pipeline.assess import predict_volume

    cache = ModelCache(Path(config.cache.directory), config.cache)
    query = MatchQuery.from_scans(scans.scout.meta, scans.zoom.meta, slices=config.network.slices, sample_class=config.cache.sample_class)

    def validate(card):
        directory = cache.path(card.id)
        candidate = SimpleNamespace(runtime=_runtime(directory, config), normalisation=_normalisation(card))
        return validate_candidate(card, lambda volume: predict_volume(candidate, volume, config), inputs, target, mask,
                                  config.cache.validation, baseline=baseline)

    with runner.stage("cache"):
        decision = select_model(cache, query, validate, config.cache, training_iterations=config.training.iterations,
                                progress=runner.inner, cancel=runner.cancel)
    if decision.action == "reuse" and decision.model_id is not None:
        card = cache.get(decision.model_id)
        directory = cache.path(card.id)
        return ModelChoice(
            id=card.id, reused=True, runtime=_runtime(directory, config), normalisation=_normalisation(card),
            directory=directory, decision=decision.reason, curve=list(card.curve), validation=card.validation,
            cache_decision=decision.model_dump(mode="json"),
        )
    init = cache.path(decision.finetune_from) / "model.keras" if decision.action == "finetune" and decision.finetune_from else None
    trained, directory = train_new(inputs, target, mask, slab, config, runner, work_dir, init_weights=init,
                                   iterations=decision.finetune_iterations if init is not None else None)
    card = card_from_trained(trained, scans.scout.meta, scans.zoom.meta, sample_class=config.cache.sample_class,
                             training_data_fingerprint=array_fingerprint(inputs, target), finetuned_from=decision.finetune_from if init else None)
    model_id = cache.add(directory, card)
    cache.evict_to_limit(keep=[model_id])
    stored = cache.path(model_id)
    action = "fine-tuned" if init is not None else "trained"
    return ModelChoice(
        id=model_id, reused=False, runtime=_runtime(stored, config), normalisation=trained.normalisation, directory=stored,
        decision=f"{action}: {decision.reason}", curve=list(trained.curve), validation=trained.validation,
        parameters=int(trained.model.count_params()), cache_decision=decision.model_dump(mode="json"),
    )
