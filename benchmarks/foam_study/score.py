"""Figures of one recovered evaluation region against the truth voxelised on its grid."""

from __future__ import annotations

import numpy as np

from benchmarks.foam_study.pair import ProcessedPair
from pipeline.evaluate import metrics
from pipeline.evaluate.pore_match import match_pores
from pipeline.evaluate.pores import PoreAnalysis, analyse_pores
from pipeline.evaluate.resolution import effective_resolution_mm


def truth_figures(pair: ProcessedPair) -> tuple[PoreAnalysis, dict]:
    """The truth volume analysed by the same pore pipeline (sphericity and porosity references)."""
    analysis = analyse_pores(pair.truth, None, pair.grid.voxel_mm, grid=pair.grid)
    recovery = match_pores(analysis, pair.phantom.pores, pair.grid)
    return analysis, {
        "porosity": analysis.porosity,
        "pore_count": analysis.count,
        "mean_sphericity": analysis.mean_sphericity,
        "recovered_fraction": recovery.recovered_fraction,
        "eligible_truth_pores": recovery.truth_count,
    }


def score(recovered: np.ndarray, pair: ProcessedPair, truth: PoreAnalysis) -> tuple[PoreAnalysis, dict]:
    """Image metrics, effective resolution and pore figures of ``recovered`` (evaluation region)."""
    reference = pair.truth
    voxel = pair.grid.voxel_mm
    analysis = analyse_pores(recovered, None, voxel, grid=pair.grid)
    recovery = match_pores(analysis, pair.phantom.pores, pair.grid)
    return analysis, {
        "psnr_db": metrics.psnr_db(recovered, reference),
        "ssim": metrics.ssim(recovered, reference),
        "ms_ssim": metrics.ms_ssim(recovered, reference, scales=3),
        "effective_resolution_mm": effective_resolution_mm(recovered, reference, None, voxel),
        "pore_recovery": recovery.model_dump(),
        "recovered_fraction": recovery.recovered_fraction,
        "false_pores": recovery.false_pores,
        "porosity": analysis.porosity,
        "porosity_error": analysis.porosity / truth.porosity - 1.0 if truth.porosity > 0 else float("nan"),
        "pore_count": analysis.count,
        "mean_sphericity": analysis.mean_sphericity,
        "sphericity_error": analysis.mean_sphericity / truth.mean_sphericity - 1.0 if truth.count else float("nan"),
    }
