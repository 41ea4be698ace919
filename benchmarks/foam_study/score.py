"""Figures of one recovered evaluation region against the truth."""

from __future__ import annotations

import numpy as np

from benchmarks.foam_study.data import FoamPair
from pipeline.evaluate import metrics
from pipeline.evaluate.pore_match import match_pores
from pipeline.evaluate.pores import PoreAnalysis, analyse_pores
from pipeline.evaluate.resolution import effective_resolution_mm

SIZE_BINS = 16


def truth_figures(pair: FoamPair) -> tuple[PoreAnalysis, dict]:
    """The truth volume analysed by the same pore pipeline (sphericity and porosity references)."""
    analysis = analyse_pores(pair.truth_eval, None, pair.zoom_voxel_mm, grid=pair.eval_grid)
    recovery = match_pores(analysis, pair.phantom.pores, pair.eval_grid)
    return analysis, {
        "porosity": analysis.porosity,
        "pore_count": analysis.count,
        "mean_sphericity": analysis.mean_sphericity,
        "recovered_fraction": recovery.recovered_fraction,
        "eligible_truth_pores": recovery.truth_count,
    }


def score(recovered: np.ndarray, pair: FoamPair, truth: PoreAnalysis) -> tuple[PoreAnalysis, dict]:
    """Image metrics, effective resolution and pore figures of ``recovered`` (evaluation region)."""
    reference = pair.truth_eval
    analysis = analyse_pores(recovered, None, pair.zoom_voxel_mm, grid=pair.eval_grid)
    recovery = match_pores(analysis, pair.phantom.pores, pair.eval_grid)
    return analysis, {
        "psnr_db": metrics.psnr_db(recovered, reference),
        "ssim": metrics.ssim(recovered, reference),
        "ms_ssim": metrics.ms_ssim(recovered, reference, scales=3),
        "effective_resolution_mm": effective_resolution_mm(recovered, reference, None, pair.zoom_voxel_mm),
        "pore_recovery": recovery.model_dump(),
        "recovered_fraction": recovery.recovered_fraction,
        "false_pores": recovery.false_pores,
        "porosity": analysis.porosity,
        "porosity_error": analysis.porosity / truth.porosity - 1.0 if truth.porosity > 0 else float("nan"),
        "pore_count": analysis.count,
        "mean_sphericity": analysis.mean_sphericity,
        "sphericity_error": analysis.mean_sphericity / truth.mean_sphericity - 1.0 if truth.count else float("nan"),
    }
