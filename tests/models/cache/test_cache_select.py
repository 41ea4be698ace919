"""select_model: the reuse decision with fake validators (no network, no training)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models.cache.card import CARD_FILE
from models.cache.config import CacheConfig
from models.cache.matching import MatchQuery
from models.cache.select import CacheDecision, select_model
from models.cache.store import REJECTED_DIR, ModelCache
from models.cache.validate import ValidationOutcome
from models.errors import Cancelled
from models.events import CacheDecided, CancelToken, ProgressEvent

PASS = ValidationOutcome(accepted=True, psnr_db=31.0, ssim=0.9, psnr_input_db=24.0, ssim_input=0.7, gain_db=7.0)
FAIL = ValidationOutcome(
    accepted=False, psnr_db=24.5, ssim=0.7, psnr_input_db=24.0, ssim_input=0.7, gain_db=0.5, reasons=["gain too low"]
)


@pytest.fixture
def cache(tmp_path: Path) -> ModelCache:
    return ModelCache(tmp_path / "cache", CacheConfig())


def _query(card) -> MatchQuery:
    return MatchQuery(scout=card.scout, zoom=card.zoom, slices=5)


def _validator(outcomes: dict[str, ValidationOutcome], calls: list[str]):
    def validate(card) -> ValidationOutcome:
        calls.append(card.id)
        return outcomes[card.id]

    return validate


def _corrupt(cache: ModelCache, model_id: str) -> None:
    path = cache.path(model_id) / "model.onnx"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # same size, different content
    path.write_bytes(bytes(data))


def test_hit_reuses_and_touches_the_model(cache, model_dir, make_card) -> None:
    card = make_card()
    cache.add(model_dir, card)
    events: list[ProgressEvent] = []
    decision = select_model(cache, _query(card), _validator({card.id: PASS}, []), progress=events.append)
    assert (decision.result, decision.reused, decision.model_id, decision.action) == ("hit", True, card.id, "reuse")
    assert decision.candidates[0].validation == PASS
    assert cache.get(card.id).use_count == 1
    assert isinstance(events[-1], CacheDecided) and events[-1].result == "hit" and events[-1].model_id == card.id
    assert CacheDecision.model_validate_json(decision.model_dump_json()) == decision  # report round trip


def test_miss_when_conditions_differ(cache, model_dir, make_card) -> None:
    stored = make_card(objective="20X")
    cache.add(model_dir, stored)
    calls: list[str] = []
    decision = select_model(cache, _query(make_card()), _validator({}, calls))
    assert (decision.result, decision.action, decision.mismatched) == ("miss", "train", 1)
    assert calls == [] and "objective" in decision.reason
    assert select_model(ModelCache(cache.directory / "empty"), _query(stored), _validator({}, [])).result == "miss"


def test_failed_validation_fine_tunes_from_the_candidate(cache, model_dir, make_card) -> None:
    card = make_card()
    cache.add(model_dir, card)
    decision = select_model(cache, _query(card), _validator({card.id: FAIL}, []), training_iterations=300)
    assert (decision.result, decision.reused, decision.action) == ("rejected", False, "finetune")
    assert decision.finetune_from == card.id and decision.finetune_iterations == 75
    assert "gain too low" in decision.reason
    assert cache.path(card.id).is_dir()  # a model that merely does not fit this pair stays cached


def test_failed_validation_trains_afresh_when_configured(cache, model_dir, make_card) -> None:
    card = make_card()
    cache.add(model_dir, card)
    policy = CacheConfig(on_reject="train")
    decision = select_model(cache, _query(card), _validator({card.id: FAIL}, []), policy)
    assert (decision.result, decision.action, decision.finetune_from) == ("rejected", "train", None)


def test_fine_tune_needs_keras_weights(cache, tmp_path, make_card, write_onnx) -> None:
    onnx_only = tmp_path / "onnx_only"
    onnx_only.mkdir()
    write_onnx(onnx_only / "model.onnx")
    card = make_card()
    cache.add(onnx_only, card)
    decision = select_model(cache, _query(card), _validator({card.id: FAIL}, []))
    assert decision.action == "train"


def test_corrupted_entry_is_moved_aside_and_the_next_candidate_used(cache, model_dir, make_card) -> None:
    corrupt, good = make_card(), make_card(voltage_kv=81.0)  # corrupt is the closer one
    cache.add(model_dir, corrupt)
    cache.add(model_dir, good)
    _corrupt(cache, corrupt.id)
    calls: list[str] = []
    events: list[ProgressEvent] = []
    decision = select_model(cache, _query(corrupt), _validator({good.id: PASS}, calls), progress=events.append)
    assert decision.result == "hit" and decision.model_id == good.id
    assert calls == [good.id]  # the corrupt one was never run
    assert decision.candidates[0].status == "rejected" and "sha256" in decision.candidates[0].reason
    assert not cache.path(corrupt.id).exists()
    assert len(list((cache.directory / REJECTED_DIR).iterdir())) == 1
    assert any(e.kind == "message" and corrupt.id in e.message for e in events)


def test_only_candidate_corrupt_means_rejected_and_train(cache, model_dir, make_card) -> None:
    card = make_card()
    cache.add(model_dir, card)
    _corrupt(cache, card.id)
    decision = select_model(cache, _query(card), _validator({}, []))
    assert (decision.result, decision.action) == ("rejected", "train")


def test_unreadable_card_is_moved_aside(cache, model_dir, make_card) -> None:
    card = make_card()
    cache.add(model_dir, card)
    card_path = cache.path(card.id) / CARD_FILE
    card_path.write_text(json.dumps({**json.loads(card_path.read_text()), "card_version": 7}))
    decision = select_model(cache, _query(card), _validator({}, []))
    assert decision.result == "miss" and decision.candidates[0].status == "rejected"
    assert cache.ids() == [] and (cache.directory / REJECTED_DIR).is_dir()


def test_validator_errors_do_not_abort_the_decision(cache, model_dir, make_card) -> None:
    card = make_card()
    cache.add(model_dir, card)

    def broken(_card):
        raise RuntimeError("runtime could not be built")

    decision = select_model(cache, _query(card), broken)
    assert decision.result == "rejected" and "runtime could not be built" in decision.candidates[0].reason


def test_at_most_max_candidates_are_validated(cache, model_dir, make_card) -> None:
    cards = [make_card(voltage_kv=80.0 + i) for i in range(3)]
    for card in cards:
        cache.add(model_dir, card)
    calls: list[str] = []
    policy = CacheConfig(max_candidates=2)
    decision = select_model(cache, _query(cards[0]), _validator({c.id: FAIL for c in cards}, calls), policy)
    assert calls == [cards[0].id, cards[1].id] and decision.result == "rejected"


def test_disabled_cache_and_cancel(cache, model_dir, make_card) -> None:
    card = make_card()
    cache.add(model_dir, card)
    decision = select_model(cache, _query(card), _validator({card.id: PASS}, []), CacheConfig(enabled=False))
    assert (decision.result, decision.action) == ("miss", "train")
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        select_model(cache, _query(card), _validator({card.id: PASS}, []), cancel=token)
