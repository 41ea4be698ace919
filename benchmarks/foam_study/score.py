"""Figures of one recovered region against the truth voxelised on its grid (both protocols)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from pipeline.evaluate import metrics
from pipeline.evaluate.pore_match import TruthPoreLike, match_pores
from pipeline.evaluate.pores import PoreAnalysis, analyse_pores
from pipeline.evaluate.resolution import effective_resolution_mm, fit_gaussian_blur
from pipeline.grid import VolumeGrid

if TYPE_CHECKING:
    from benchmarks.foam_study.pair import ProcessedPair


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


SIZE_EDGES_UM = np.arange(0.0, 85.0, 5.0)


def central_box(shape: tuple[int, ...], side: int) -> tuple[slice, ...]:
    """The centred cube of ``side`` voxels (the whole axis where it is shorter)."""
    return tuple(slice(max(0, (n - side) // 2), max(0, (n - side) // 2) + min(n, side)) for n in shape)


def score_on_grid(
    recovered: np.ndarray,
    truth_volume: np.ndarray,
    grid: VolumeGrid,
    truth_pores: Sequence[TruthPoreLike],
    mask: np.ndarray,
    truth: PoreAnalysis,
    *,
    max_sigma_px: float,
    resolution_box_px: int,
    all_pores: Sequence[TruthPoreLike] | None = None,
) -> tuple[PoreAnalysis, dict, np.ndarray]:
    """The one-grid protocol's figures of ``recovered`` against the phantom inside ``mask``, and the MS-SSIM map.

    ``truth_pores`` are the eligible ones (wholly inside ``mask``); ``all_pores`` (default: the same) decide
    which unmatched found pores are false (centroid in no truth pore at all) and which are fragments. The effective
    resolution is fitted on
    the central ``resolution_box_px`` cube (a global fit; the cube keeps it quick) with sigmas up to
    ``max_sigma_px``; it is reported as a FWHM (mm) and as the Gaussian's sigma (um), the paper's "R".
    """
    voxel = grid.voxel_mm
    analysis = analyse_pores(recovered, mask, voxel, grid=grid)
    recovery = match_pores(analysis, truth_pores, grid)
    if all_pores is not None:
        false = match_pores(analysis, all_pores, grid).false_pores
        recovery = recovery.model_copy(
            update={
                "false_pores": false,
                "split_pores": recovery.found_count - recovery.matched - false,
                "false_fraction": false / recovery.found_count if recovery.found_count else 0.0,
            }
        )
    box = central_box(recovered.shape, resolution_box_px)
    fit = fit_gaussian_blur(recovered[box], truth_volume[box], mask[box], max_sigma_px)
    ms_map = metrics.ms_ssim_map(recovered, truth_volume, mask, scales=3)
    figures = {
        "psnr_db": metrics.psnr_db(recovered, truth_volume, mask),
        "ssim": metrics.ssim(recovered, truth_volume, mask),
        "ms_ssim": float(np.mean(ms_map[mask])),
        "effective_resolution_mm": fit.fwhm_mm(voxel),
        "effective_sigma_um": fit.sigma_px * voxel * 1000.0,
        "pore_recovery": recovery.model_dump(),
        "recovered_fraction": recovery.recovered_fraction,
        "false_pores": recovery.false_pores,
        "porosity": analysis.porosity,
        "porosity_error": analysis.porosity / truth.porosity - 1.0 if truth.porosity > 0 else float("nan"),
        "pore_count": analysis.count,
        "mean_sphericity": analysis.mean_sphericity,
        "sphericity_error": analysis.mean_sphericity / truth.mean_sphericity - 1.0 if truth.count else float("nan"),
        "size_histogram": analysis.size_distribution(SIZE_EDGES_UM / 1000.0),
    }
    return analysis, figures, ms_map
