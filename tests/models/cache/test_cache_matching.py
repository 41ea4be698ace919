"""Matching policy: exact categorical keys, numeric tolerances, ranking."""

from __future__ import annotations

import pytest

from models.cache.config import MatchPolicy
from models.cache.matching import MatchQuery, match, rank_candidates


def _query(card, **changes) -> MatchQuery:
    query = MatchQuery(scout=card.scout, zoom=card.zoom, sample_class=card.sample_class, slices=card.network["slices"])
    return query.model_copy(update=changes)


def _with_zoom_conditions(card, **conditions):
    zoom = card.zoom.model_copy(update={"conditions": card.zoom.conditions.model_copy(update=conditions)})
    return zoom


def test_same_conditions_match_at_distance_zero(make_card) -> None:
    card = make_card()
    result = match(_query(card), card, MatchPolicy())
    assert result.ok and result.distance == 0.0 and result.reasons == []


@pytest.mark.parametrize(
    ("card_kwargs", "reason"),
    [
        ({"objective": "20X"}, "objective"),
        ({"filter": "HE1"}, "filter"),
        ({"binning": 1}, "binning"),
        ({"voltage_kv": 100.0}, "voltage_kv"),
        ({"zoom_voxel_mm": 0.012}, "voxel"),
        ({"slices": 3}, "slices"),
    ],
)
def test_different_conditions_do_not_match(make_card, card_kwargs, reason) -> None:
    query = _query(make_card())
    result = match(query, make_card(**card_kwargs), MatchPolicy())
    assert not result.ok
    assert any(reason in text for text in result.reasons), result.reasons


def test_numeric_conditions_within_tolerance_match(make_card) -> None:
    query = _query(make_card())
    close = make_card(voltage_kv=82.0)  # 2.4 % off, tolerance 5 %
    result = match(query, close, MatchPolicy())
    assert result.ok and 0 < result.distance < 1
    strict = MatchPolicy(relative_tolerances={"voltage_kv": 0.01, "voxel_mm": 0.05, "ratio": 0.05})
    assert not match(query, close, strict).ok


def test_sample_class_must_agree_only_when_given(make_card) -> None:
    card = make_card(sample_class="bone")
    assert not match(_query(card, sample_class="foam"), card, MatchPolicy()).ok
    assert match(_query(card, sample_class=None), card, MatchPolicy()).ok
    assert match(_query(card, sample_class="foam"), card, MatchPolicy(match_sample_class=False)).ok


def test_unknown_condition_on_one_side_is_a_mismatch_unless_allowed(make_card) -> None:
    card = make_card()
    query = _query(card, zoom=_with_zoom_conditions(card, objective=None))
    assert not match(query, card, MatchPolicy()).ok
    assert match(query, card, MatchPolicy(unknown_matches_any=True)).ok


def test_policy_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match="relative_tolerances"):
        MatchPolicy(relative_tolerances={"colour": 0.1})
    with pytest.raises(ValueError, match="exact_keys"):
        MatchPolicy(exact_keys=["voltage_kv"])


def test_rank_candidates_orders_by_closeness_and_drops_mismatches(make_card) -> None:
    exact, near, nearer, other = (
        make_card(),
        make_card(voltage_kv=83.0),
        make_card(voltage_kv=81.0),
        make_card(objective="20X"),
    )
    query = _query(exact)
    ranked = rank_candidates(query, [near, other, nearer, exact], MatchPolicy())
    assert [card.id for card, _ in ranked] == [exact.id, nearer.id, near.id]
    everything = rank_candidates(query, [near, other, exact], MatchPolicy(), include_mismatches=True)
    assert everything[-1][0].id == other.id and not everything[-1][1].ok
