"""Pores found in a volume against a truth list: recovery, false pores, size and shape errors.

A truth pore counts when it lies wholly inside the analysed region (found
pores touching the region's boundary are removed, so truth pores cut by it
are too) and its radius reaches the detection limit. A found pore matches a
truth pore when its centroid is closer than ``max(radius, 1 voxel)`` and its
equivalent diameter is within ``size_factor`` of the true one; matches are
one-to-one (optimal assignment on centre distance). A found pore left
unmatched is a *false pore* (hallucination) when its centroid lies in no truth
pore at all, and a *split* fragment otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy.optimize import linear_sum_assignment

from pipeline.evaluate.config import PoreConfig
from pipeline.evaluate.pores import PoreAnalysis
from pipeline.grid import VolumeGrid

UNMATCHABLE = 1e12


class TruthPoreLike(Protocol):
    centre_mm: Sequence[float]
    radius_mm: float


class TruthPore(BaseModel):
    """A ground-truth spherical pore (centre ``[x, y, z]`` mm in the region grid's frame)."""

    model_config = ConfigDict(frozen=True)

    centre_mm: tuple[float, float, float]
    radius_mm: float
    sphericity: float = 1.0


class PoreRecovery(BaseModel):
    """How well the found pores reproduce the truth pores of a region."""

    truth_count: int
    found_count: int
    matched: int
    recovered_fraction: float
    false_pores: int
    split_pores: int
    false_fraction: float
    diameter_error_mean: float
    diameter_error_abs_mean: float
    sphericity_found_mean: float
    sphericity_truth_mean: float
    min_radius_mm: float


def truth_in_region(truth: Sequence[TruthPoreLike], region: VolumeGrid, min_radius_mm: float) -> list[TruthPore]:
    """Truth pores wholly inside ``region``'s voxel box and at least ``min_radius_mm`` in radius."""
    if not truth:
        return []
    centres = np.array([list(p.centre_mm) for p in truth], dtype=float)
    radii = np.array([float(p.radius_mm) for p in truth])
    index = region.physical_to_index(centres)
    margin = radii[:, None] / np.asarray(region.spacing_mm)[None, :]
    upper = np.asarray(region.shape_xyz, dtype=float) - 0.5
    inside = np.all((index - margin >= -0.5) & (index + margin <= upper), axis=1)
    keep = inside & (radii >= min_radius_mm)
    return [_as_truth(p) for p, k in zip(truth, keep) if k]


def _as_truth(pore: TruthPoreLike) -> TruthPore:
    sphericity = float(getattr(pore, "sphericity", 1.0))
    return TruthPore(
        centre_mm=tuple(float(c) for c in pore.centre_mm), radius_mm=float(pore.radius_mm), sphericity=sphericity
    )  # type: ignore[arg-type]


def match_pores(
    found: PoreAnalysis,
    truth_pores: Sequence[TruthPoreLike],
    region: VolumeGrid,
    *,
    config: PoreConfig | None = None,
) -> PoreRecovery:
    """Match ``found`` pores (centroids in ``region``'s frame) to the eligible ``truth_pores``."""
    config = config or PoreConfig()
    voxel_mm = region.voxel_mm
    min_radius_mm = config.min_radius_px * voxel_mm
    eligible = truth_in_region(truth_pores, region, min_radius_mm)
    all_truth = [_as_truth(p) for p in truth_pores]
    found_xyz = np.array([p.centroid_mm for p in found.pores], dtype=float).reshape(-1, 3)
    found_d = found.diameters_mm

    matched_pairs: list[tuple[int, int]] = []
    if eligible and found.pores:
        centres = np.array([p.centre_mm for p in eligible])
        radii = np.array([p.radius_mm for p in eligible])
        distance = np.linalg.norm(found_xyz[:, None, :] - centres[None, :, :], axis=2)
        ratio = found_d[:, None] / (2.0 * radii[None, :])
        valid = (
            (distance < np.maximum(radii, voxel_mm)[None, :])
            & (ratio <= config.size_factor)
            & (ratio >= 1.0 / config.size_factor)
        )
        cost = np.where(valid, distance, UNMATCHABLE)
        rows, cols = linear_sum_assignment(cost)
        matched_pairs = [(int(r), int(c)) for r, c in zip(rows, cols) if valid[r, c]]

    matched_found = {r for r, _ in matched_pairs}
    inside_any = _inside_any_truth(found_xyz, all_truth, voxel_mm)
    unmatched = [i for i in range(len(found.pores)) if i not in matched_found]
    false_pores = sum(1 for i in unmatched if not inside_any[i])
    errors = [found_d[r] / (2.0 * eligible[c].radius_mm) - 1.0 for r, c in matched_pairs]
    sph_found = [found.pores[r].sphericity for r, _ in matched_pairs]
    sph_truth = [eligible[c].sphericity for _, c in matched_pairs]
    return PoreRecovery(
        truth_count=len(eligible),
        found_count=len(found.pores),
        matched=len(matched_pairs),
        recovered_fraction=len(matched_pairs) / len(eligible) if eligible else float("nan"),
        false_pores=false_pores,
        split_pores=len(unmatched) - false_pores,
        false_fraction=false_pores / len(found.pores) if found.pores else 0.0,
        diameter_error_mean=_mean(errors),
        diameter_error_abs_mean=_mean([abs(e) for e in errors]),
        sphericity_found_mean=_mean(sph_found),
        sphericity_truth_mean=_mean(sph_truth),
        min_radius_mm=min_radius_mm,
    )


def _inside_any_truth(points: np.ndarray, truth: list[TruthPore], voxel_mm: float) -> np.ndarray:
    """Whether each point lies within ``max(radius, 1 voxel)`` of some truth pore's centre."""
    if not truth or len(points) == 0:
        return np.zeros(len(points), dtype=bool)
    centres = np.array([p.centre_mm for p in truth])
    radii = np.maximum(np.array([p.radius_mm for p in truth]), voxel_mm)
    distance = np.linalg.norm(points[:, None, :] - centres[None, :, :], axis=2)
    return np.any(distance < radii[None, :], axis=1)


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")
