"""Feature-level trust: are the zoom's pores still there in the recovered volume, and no others?

PSNR and SSIM can rise while small features vanish (a network that smooths
noise also erases pores a voxel or two across). So on the test slab the zoom,
the recovered volume and the baselines are segmented the same way (the pore
analysis of :mod:`pipeline.evaluate.pores`, Otsu threshold per volume) and the
pores found in each are matched to those found in the zoom
(:func:`pipeline.evaluate.pore_match.match_pores`, the zoom's pores standing in
for the truth): *recall* is the share of zoom pores found again, a *false
feature* is a found pore that lies in no zoom pore at all.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict

from pipeline.evaluate.config import PoreConfig
from pipeline.evaluate.pore_match import TruthPore, match_pores
from pipeline.evaluate.pores import PoreAnalysis, analyse_pores
from pipeline.grid import VolumeGrid


class FeatureFigures(BaseModel):
    """Pores of one volume against the zoom's pores on the same slab."""

    model_config = ConfigDict(frozen=True)

    found: int
    matched: int
    recall: float | None  # None when the zoom shows no pore there
    false_features: int
    false_fraction: float


class FeatureTrust(BaseModel):
    """``trust.features`` in ``report.json``: zoom pores on the test slab and how each volume recovers them."""

    model_config = ConfigDict(frozen=True)

    method: str = "pores"
    zoom_features: int
    recovered: FeatureFigures
    baselines: dict[str, FeatureFigures]


def _as_reference(analysis: PoreAnalysis) -> list[TruthPore]:
    """The zoom's pores as spheres of their equivalent diameter (centroids in the slab grid's frame)."""
    return [
        TruthPore(centre_mm=p.centroid_mm, radius_mm=p.equivalent_diameter_mm / 2.0, sphericity=p.sphericity)
        for p in analysis.pores
    ]


def _figures(
    volume: np.ndarray, mask: np.ndarray, grid: VolumeGrid, reference: list[TruthPore], config: PoreConfig
) -> FeatureFigures:
    found = analyse_pores(volume, mask, grid.voxel_mm, grid=grid, config=config)
    match = match_pores(found, reference, grid, config=config)
    recall = match.recovered_fraction if match.truth_count else None
    return FeatureFigures(
        found=match.found_count,
        matched=match.matched,
        recall=recall,
        false_features=match.false_pores,
        false_fraction=match.false_fraction,
    )


def feature_trust(
    recovered: np.ndarray,
    zoom: np.ndarray,
    mask: np.ndarray,
    voxel_mm: float,
    baselines: dict[str, np.ndarray],
    config: PoreConfig | None = None,
) -> FeatureTrust:
    """Pores of ``recovered`` and of each baseline (e.g. ``cubic``) matched to the zoom's pores, all on one slab.

    Volumes are ``[z, y, x]`` on the zoom grid (isotropic ``voxel_mm``); ``mask`` is the valid region.
    """
    config = config or PoreConfig()
    grid = VolumeGrid.isotropic(tuple(int(n) for n in zoom.shape), voxel_mm)
    reference_analysis = analyse_pores(zoom, mask, voxel_mm, grid=grid, config=config)
    reference = _as_reference(reference_analysis)
    eligible = match_pores(reference_analysis, reference, grid, config=config).truth_count
    return FeatureTrust(
        zoom_features=eligible,
        recovered=_figures(recovered, mask, grid, reference, config),
        baselines={name: _figures(volume, mask, grid, reference, config) for name, volume in baselines.items()},
    )


def feature_reasons(
    features: FeatureTrust, min_recall_gain: float, max_false_fraction: float, min_features: int = 1
) -> list[str]:
    """Why the recovered volume's features cannot be trusted (empty when they can, or when the zoom shows fewer than
    ``min_features`` pores on the slab: one pore more or less is no evidence)."""
    reasons: list[str] = []
    if features.zoom_features < min_features:
        return reasons
    rec = features.recovered
    if rec.recall is not None:
        for name, base in features.baselines.items():
            if base.recall is not None and rec.recall - base.recall < min_recall_gain:
                reasons.append(
                    f"on the test slab the recovered volume finds {rec.matched} of {features.zoom_features} zoom pores "
                    f"(recall {rec.recall:.2f}), {name} finds {base.matched} (recall {base.recall:.2f}): features were "
                    f"erased"
                )
    if rec.false_fraction > max_false_fraction:
        reasons.append(
            f"{rec.false_features} of {rec.found} pores found in the recovered volume on the test slab are in no zoom "
            f"pore "
            f"(false share {rec.false_fraction:.2f}, maximum {max_false_fraction:.2f}): possible invented features"
        )
    return reasons
