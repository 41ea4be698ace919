"""Quality of a recovered pair, measured on the zoom's test slab (never trained on, never used to choose the model).

The recovered zoom box, cubic upsampling of the scout (its native
reconstruction) and the scout reconstructed on the zoom grid are each compared
with the zoom inside the mask. PSNR/SSIM are computed once, by the trust report
(:mod:`pipeline.evaluate.trust`), which also carries effective resolution,
feature recall, the disagreement map's figures, the hallucination indicator and
the flags; ``quality`` repeats its headline figures for tools that read them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.quality import psnr_db, ssim
from pipeline.config import ProcessConfig
from pipeline.evaluate.trust import TrustReport, build_trust_report
from pipeline.pair.heldout import HeldoutSlabs
from pipeline.pair.model_step import ModelChoice, predictor
from pipeline.pair.report import QualityFigures
from pipeline.pair.steps import VolumeWithMask
from pipeline.region import OutputPlacement


@dataclass(frozen=True)
class AssessmentInput:
    """Everything the assessment reads: zoom-box volumes (zoom grid) and the output region's volumes."""

    model: ModelChoice
    registered_scout: np.ndarray
    zoom: np.ndarray
    mask: np.ndarray
    slabs: HeldoutSlabs
    cubic_box: np.ndarray
    scout_native: VolumeWithMask
    output_scout: np.ndarray  # the scout on the output grid over outside_window(nz) only (z slices)
    output_recovered: np.ndarray
    output_mask: np.ndarray
    placement: OutputPlacement
    voxel_mm: float


@dataclass(frozen=True)
class Assessment:
    quality: QualityFigures
    trust: TrustReport
    recovered_zoom_box: np.ndarray
    cubic_zoom_box: np.ndarray
    cubic_output_slice: np.ndarray
    output_slice_z: int
    test_mask: np.ndarray


def assess(data: AssessmentInput, config: ProcessConfig) -> Assessment:
    """Predict the zoom box, then judge recovered, cubic and scout-on-grid against the zoom on the test slab."""
    from pipeline.baselines.upsample import cubic_upsample

    recovered_box = predictor(data.model.runtime, data.model.normalisation, config)(data.registered_scout)
    z0, z1 = data.slabs.test
    test = slice(z0, z1)
    test_mask = data.mask[test]
    outside_pair, outside_mask = _outside_sample(data)
    trust = build_trust_report(
        recovered_box[test],
        data.cubic_box[test],
        data.zoom[test],
        test_mask,
        data.voxel_mm,
        config.trust,
        outside_pair=outside_pair,
        outside_mask=outside_mask,
        scout_heldout=data.registered_scout[test],
        test_slab_z=(z0, z1),
    )
    quality = QualityFigures(
        test_slab_z=(z0, z1),
        validation_slab_z=data.slabs.validation,
        psnr_recovered_db=trust.heldout_psnr_db,
        ssim_recovered=trust.heldout_ssim,
        psnr_cubic_db=trust.heldout_psnr_cubic_db,
        ssim_cubic=trust.heldout_ssim_cubic,
        psnr_scout_on_grid_db=psnr_db(data.registered_scout[test], data.zoom[test], test_mask),
        ssim_scout_on_grid=ssim(data.registered_scout[test], data.zoom[test], test_mask),
    )
    z_mid = data.placement.grid.shape_zyx[0] // 2
    slice_grid = data.placement.grid.sub_grid(z_mid, z_mid + 1)
    cubic_slice = cubic_upsample(data.scout_native.volume, data.scout_native.grid, slice_grid)[0].astype(np.float32)
    return Assessment(
        quality=quality,
        trust=trust,
        recovered_zoom_box=recovered_box,
        cubic_zoom_box=data.cubic_box,
        cubic_output_slice=cubic_slice,
        output_slice_z=z_mid,
        test_mask=test_mask,
    )


OUTSIDE_MAX_SLICES = 64


def outside_window(nz: int) -> tuple[int, int]:
    """The central z-window ``[z0, z1)`` (at most ``OUTSIDE_MAX_SLICES``) of an output of ``nz`` slices that the
    scout-consistency check reads: the only slices of the scout on the output grid the assessment needs."""
    z0 = max(0, nz // 2 - OUTSIDE_MAX_SLICES // 2)
    return z0, min(nz, z0 + OUTSIDE_MAX_SLICES)


def _outside_sample(data: AssessmentInput) -> tuple[tuple[np.ndarray, np.ndarray] | None, np.ndarray | None]:
    """``((recovered, scout), mask)`` over the central z-window of the output (:func:`outside_window`) with the
    zoom box masked out, for the scout-consistency check; ``(None, None)`` when nothing is outside."""
    from pipeline.evaluate.consistency import outside_zoom_mask

    z0, z1 = outside_window(data.placement.grid.shape_zyx[0])
    if data.output_scout.shape[0] != z1 - z0:
        raise ValueError(f"output_scout holds {data.output_scout.shape[0]} slices, the window [{z0}, {z1}) needs")
    ox, oy, oz = data.placement.zoom_offset_xyz
    mask = outside_zoom_mask(np.asarray(data.output_mask[z0:z1]), (ox, oy, oz - z0), data.zoom.shape)
    if not mask.any():
        return None, None
    pair = (np.asarray(data.output_recovered[z0:z1], np.float32), np.asarray(data.output_scout, np.float32))
    return pair, mask
