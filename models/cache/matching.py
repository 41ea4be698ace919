"""The matching policy: is a cached model a candidate for a new pair, and how close is it?

All reuse conditions live in :func:`match` (configured by
:class:`~models.cache.config.MatchPolicy`) so that the rule is read in one place:

- the network must take the same number of input slices (channels);
- categorical conditions (``policy.exact_keys``: filter, objective, binning)
  must be equal on both the scout and the zoom scan;
- numeric ones (``policy.relative_tolerances``: voltage, current, exposure,
  voxel size per scan, and the scout/zoom voxel ratio) must agree within a
  relative tolerance ``|a - b| / max(|a|, |b|)``;
- the sample class must be equal when the new pair names one.

The distance is the mean of ``relative difference / tolerance`` over the
numeric keys compared (0 = identical, 1 = at the edge of tolerance); it ranks
candidates, closest first, newest first among equals.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from models.cache.card import ModelCard, ScanConditions
from models.cache.config import MatchPolicy

ROLES = ("scout", "zoom")


class MatchQuery(BaseModel):
    """What a new pair looks like, for matching against model cards."""

    model_config = ConfigDict(extra="forbid")

    scout: ScanConditions
    zoom: ScanConditions
    sample_class: str | None = None
    slices: int = Field(5, ge=1, description="input slices of the network the pipeline would use")

    @property
    def voxel_ratio(self) -> float:
        return self.scout.voxel_mm / self.zoom.voxel_mm


class MatchResult(BaseModel):
    """``ok`` when every compared condition agrees; ``reasons`` lists each one that does not."""

    ok: bool
    distance: float = Field(ge=0)
    reasons: list[str] = Field(default_factory=list)


def _relative_difference(a: float, b: float) -> float:
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale


def _condition(scan: ScanConditions, key: str) -> Any:
    if key == "voxel_mm":
        return scan.voxel_mm
    return getattr(scan.conditions, key, None)


def _compare_numeric(
    label: str, new: Any, old: Any, tolerance: float, policy: MatchPolicy, reasons: list[str]
) -> float | None:
    """Scaled difference (difference / tolerance), or None when not comparable; appends a reason on mismatch."""
    if new is None or old is None:
        if (new is None) != (old is None) and not policy.unknown_matches_any:
            reasons.append(f"{label}: {new} here vs {old} in the model (one side unknown)")
        return None
    difference = _relative_difference(float(new), float(old))
    if difference > tolerance:
        reasons.append(
            f"{label}: {new} here vs {old} in the model (differs by {difference:.1%}, tolerance {tolerance:.1%})"
        )
    if tolerance == 0:
        return 0.0 if difference == 0 else float("inf")
    return difference / tolerance


def match(query: MatchQuery, card: ModelCard, policy: MatchPolicy) -> MatchResult:
    """Does ``card`` describe a model trained under the same conditions as ``query``? (rules: module docstring)."""
    reasons: list[str] = []
    scaled: list[float] = []

    card_slices = card.network.get("slices")
    if card_slices != query.slices:
        reasons.append(f"network slices: {query.slices} here vs {card_slices} in the model")

    for role in ROLES:
        new_scan: ScanConditions = getattr(query, role)
        old_scan: ScanConditions = getattr(card, role)
        for key in policy.exact_keys:
            new, old = _condition(new_scan, key), _condition(old_scan, key)
            if new == old or (policy.unknown_matches_any and (new is None or old is None)):
                continue
            reasons.append(f"{role} {key}: {new!r} here vs {old!r} in the model")
        for key, tolerance in policy.relative_tolerances.items():
            if key == "ratio":
                continue
            value = _compare_numeric(
                f"{role} {key}", _condition(new_scan, key), _condition(old_scan, key), tolerance, policy, reasons
            )
            if value is not None:
                scaled.append(value)

    if "ratio" in policy.relative_tolerances:
        value = _compare_numeric(
            "voxel ratio", query.voxel_ratio, card.voxel_ratio, policy.relative_tolerances["ratio"], policy, reasons
        )
        if value is not None:
            scaled.append(value)

    if policy.match_sample_class and query.sample_class is not None and card.sample_class != query.sample_class:
        reasons.append(f"sample class: {query.sample_class!r} here vs {card.sample_class!r} in the model")

    distance = sum(scaled) / len(scaled) if scaled else 0.0
    return MatchResult(ok=not reasons, distance=distance, reasons=reasons)


def rank_candidates(
    query: MatchQuery, cards: list[ModelCard], policy: MatchPolicy, *, include_mismatches: bool = False
) -> list[tuple[ModelCard, MatchResult]]:
    """Cards that match ``query`` (all cards if ``include_mismatches``), closest first, newest first among equals."""
    results = [(card, match(query, card, policy)) for card in cards]
    if not include_mismatches:
        results = [(card, result) for card, result in results if result.ok]
    results.sort(key=lambda pair: (not pair[1].ok, pair[1].distance, -pair[0].created_utc.timestamp()))
    return results
