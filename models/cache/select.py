"""The reuse decision for one pair: match -> verify -> validate -> reuse, fine-tune or train.

:func:`select_model` does everything except training, so the pipeline stays
thin: it builds a :class:`MatchQuery`, passes a ``validate`` closure that runs
a card's model on the pair's registered region (see
:func:`models.cache.validate.validate_candidate`), and acts on the returned
:class:`CacheDecision`, which also goes into ``report.json``.

Progress events (stage ``"cache"``): a :class:`~models.events.Message` for
every entry rejected as unusable, then one :class:`~models.events.CacheDecided`
with the result (``hit`` | ``miss`` | ``rejected``), the reused model's id on a
hit and the reason; the daemon's metrics and logs subscribe to that kind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, Field

from models.cache.card import KERAS_FILE, ModelCard
from models.cache.config import CacheConfig
from models.cache.matching import MatchQuery, rank_candidates
from models.cache.store import ModelCache
from models.cache.validate import ValidationOutcome
from models.cache.verify import CacheEntryRejected
from models.errors import Cancelled, ScoutzoomError
from models.events import CacheDecided, CacheResult, CancelToken, ProgressCallback, emit, message

STAGE = "cache"
Validator = Callable[[ModelCard], ValidationOutcome]


class CandidateRecord(BaseModel):
    """One cache entry considered for a pair, and what became of it."""

    model_id: str
    distance: float | None = None
    status: Literal["accepted", "failed_validation", "rejected"]
    reason: str = ""
    validation: ValidationOutcome | None = None


class CacheDecision(BaseModel):
    """What the cache decided for a pair (goes into report.json).

    ``result``: ``hit`` (a model is reused), ``miss`` (no cached model matches
    the conditions) or ``rejected`` (matching models exist but none was fit or
    good enough). ``action`` says what the pipeline does next.
    """

    result: CacheResult
    reused: bool
    model_id: str | None = Field(None, description="the reused model")
    action: Literal["reuse", "finetune", "train"]
    finetune_from: str | None = None
    finetune_iterations: int | None = None
    reason: str
    candidates: list[CandidateRecord] = Field(default_factory=list)
    mismatched: int = Field(0, description="cached models whose conditions do not match")


def _reject(cache: ModelCache, model_id: str, reason: str, progress: ProgressCallback | None) -> None:
    cache.reject(model_id, reason)
    message(progress, STAGE, f"model {model_id} rejected and moved aside: {reason}")


def _finish(decision: CacheDecision, progress: ProgressCallback | None) -> CacheDecision:
    emit(
        progress, CacheDecided(stage=STAGE, result=decision.result, model_id=decision.model_id, reason=decision.reason)
    )
    return decision


def _try_candidate(
    cache: ModelCache, card: ModelCard, distance: float, validate: Validator, progress: ProgressCallback | None
) -> CandidateRecord:
    try:
        cache.verify(card.id)
    except CacheEntryRejected as error:
        _reject(cache, card.id, error.reason, progress)
        return CandidateRecord(model_id=card.id, distance=distance, status="rejected", reason=error.reason)
    try:
        outcome = validate(card)
    except Cancelled:
        raise
    except (ScoutzoomError, ValueError, RuntimeError, OSError) as error:
        return CandidateRecord(
            model_id=card.id,
            distance=distance,
            status="failed_validation",
            reason=f"could not be run on this pair: {error}",
        )
    status = "accepted" if outcome.accepted else "failed_validation"
    return CandidateRecord(
        model_id=card.id, distance=distance, status=status, reason="; ".join(outcome.reasons), validation=outcome
    )


def _finetune_source(records: list[CandidateRecord], cards: dict[str, ModelCard]) -> CandidateRecord | None:
    """The validated candidate with the best gain that has Keras weights to start from."""
    usable = [r for r in records if r.validation is not None and KERAS_FILE in cards[r.model_id].files]
    if not usable:
        return None
    return max(usable, key=lambda r: r.validation.gain_db if r.validation.gain_db is not None else float("-inf"))


def select_model(
    cache: ModelCache,
    query: MatchQuery,
    validate: Validator,
    policy: CacheConfig | None = None,
    *,
    training_iterations: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> CacheDecision:
    """Decide whether a cached model serves this pair (reuse), seeds a fine-tune, or a new one is trained.

    Unreadable or corrupt entries met on the way are moved aside with their
    reason. A reused model is touched (LRU). ``training_iterations`` (of a full
    run) sets ``finetune_iterations`` when the decision is to fine-tune.
    """
    config = policy or cache.config
    if not config.enabled:
        return _finish(
            CacheDecision(result="miss", reused=False, action="train", reason="model cache disabled"), progress
        )

    records: list[CandidateRecord] = []
    for model_id, reason in cache.problems().items():
        _reject(cache, model_id, reason, progress)
        records.append(CandidateRecord(model_id=model_id, status="rejected", reason=reason))

    ranked = rank_candidates(query, cache.list(), config.match, include_mismatches=True)
    matching = [(card, result) for card, result in ranked if result.ok]
    mismatched = len(ranked) - len(matching)
    if not matching:
        reason = "no cached model matches the acquisition conditions"
        if ranked:
            closest, result = ranked[0]
            reason += f" (closest {closest.id}: {'; '.join(result.reasons)})"
        decision = CacheDecision(
            result="miss", reused=False, action="train", reason=reason, candidates=records, mismatched=mismatched
        )
        return _finish(decision, progress)

    cards = {card.id: card for card, _ in matching}
    for card, result in matching[: config.max_candidates]:
        if cancel is not None:
            cancel.raise_if_cancelled("model cache validation")
        record = _try_candidate(cache, card, result.distance, validate, progress)
        records.append(record)
        if record.status == "accepted":
            cache.touch(card.id)
            decision = CacheDecision(
                result="hit",
                reused=True,
                model_id=card.id,
                action="reuse",
                candidates=records,
                mismatched=mismatched,
                reason=f"model {card.id} matches (distance {result.distance:.2f}) and passed validation on this pair",
            )
            return _finish(decision, progress)

    tried = [r for r in records if r.model_id in cards]
    summary = "; ".join(f"{r.model_id}: {r.status} ({r.reason})" for r in tried)
    source = _finetune_source(tried, cards) if config.on_reject == "finetune" else None
    if source is not None:
        iterations = (
            config.finetune_iterations_for(training_iterations) if training_iterations else config.finetune_iterations
        )
        decision = CacheDecision(
            result="rejected",
            reused=False,
            action="finetune",
            finetune_from=source.model_id,
            finetune_iterations=iterations,
            reason=f"no matching model passed validation, fine-tuning from {source.model_id} [{summary}]",
            candidates=records,
            mismatched=mismatched,
        )
    else:
        decision = CacheDecision(
            result="rejected",
            reused=False,
            action="train",
            candidates=records,
            mismatched=mismatched,
            reason=f"no matching model passed validation, training afresh [{summary}]",
        )
    return _finish(decision, progress)
