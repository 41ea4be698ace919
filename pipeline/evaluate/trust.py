"""The trust report of a processed pair: figures on held-out zoom data, and flags.

Held out means the zoom's test slab: data the model neither trained on nor was
chosen on. The recovered volume and the cubic-upsampled scout are compared with
the zoom (PSNR, SSIM, 3D MS-SSIM), both get an effective resolution (extra
Gaussian blur relative to the zoom), pores are segmented in all of them and
matched to the zoom's (:mod:`pipeline.evaluate.features`: recall and false
features), and the scout-consistency check (:mod:`pipeline.evaluate.consistency`)
watches the region outside the zoom. Any figure past a :class:`TrustConfig`
threshold flags the volume, with a reason a user can read.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from pipeline.evaluate import metrics
from pipeline.evaluate.config import TrustConfig
from pipeline.evaluate.consistency import halves_disagreement, scout_consistency
from pipeline.evaluate.features import FeatureTrust, feature_reasons, feature_trust
from pipeline.evaluate.resolution import GaussianFit, fit_gaussian_blur


class ResolutionFigures(BaseModel):
    """Effective resolution (FWHM mm of the extra blur relative to the zoom); lower is sharper. ``None`` where the
    fit explains too little of the image to measure one (``*_r2`` below ``TrustConfig.min_resolution_fit_r2``)."""

    model_config = ConfigDict(frozen=True)

    before: float | None = Field(description="cubic upsampling of the scout (mm), None when not measurable")
    after: float | None = Field(description="the recovered volume (mm), None when not measurable")
    before_r2: float | None = Field(None, description="share of the cubic volume's variance the fit explains")
    after_r2: float | None = Field(None, description="share of the recovered volume's variance the fit explains")


class HallucinationFigures(BaseModel):
    """Scout consistency (ratios to the zoom's own residual; ~1 is as good as the zoom) and optional halves
    disagreement."""

    model_config = ConfigDict(frozen=True)

    method: str = "scout_consistency"
    scout_psf_fwhm_mm: float
    inside_ratio: float
    outside_ratio: float | None = None
    outside_over_inside: float | None = None
    halves_disagreement: float | None = None


class TrustReport(BaseModel):
    """``report.json``'s ``trust`` object."""

    heldout_psnr_db: float = Field(description="PSNR of the recovered volume against the zoom, test slab (dB)")
    heldout_psnr_cubic_db: float = Field(description="PSNR of cubic upsampling of the scout, test slab (dB)")
    psnr_gain_db: float = Field(description="heldout_psnr_db minus heldout_psnr_cubic_db (dB)")
    heldout_ssim: float = Field(description="SSIM of the recovered volume, test slab (0-1)")
    heldout_ssim_cubic: float = Field(description="SSIM of cubic upsampling, test slab (0-1)")
    heldout_ms_ssim: float = Field(description="3D MS-SSIM of the recovered volume, test slab (0-1)")
    heldout_ms_ssim_cubic: float = Field(description="3D MS-SSIM of cubic upsampling, test slab (0-1)")
    effective_resolution_mm: ResolutionFigures = Field(
        description="FWHM of the extra blur relative to the zoom, before (cubic) and after (recovered) (mm)"
    )
    hallucination: HallucinationFigures = Field(
        description="scout consistency: residual ratios to the zoom's own (~1 is as good as the zoom)"
    )
    heldout_voxels: int = Field(description="voxels of the test slab compared (inside the mask)")
    test_slab_z: tuple[int, int] | None = Field(
        None, description="test slab: z start and stop (exclusive) on the zoom grid (voxels)"
    )
    features: FeatureTrust | None = Field(None, description="pores found and matched to the zoom's: recall, false")
    flagged: bool = Field(description="a figure is past its threshold: do not trust without looking")
    reasons: list[str] = Field(description="why it is flagged, one sentence each (empty when trusted)")


def _reasons(report: dict, config: TrustConfig) -> list[str]:
    """Human-readable reasons why the figures fall below ``config``'s thresholds."""
    reasons: list[str] = []
    gain = report["psnr_gain_db"]
    if not gain >= config.min_psnr_gain_db:
        reasons.append(
            f"PSNR gain over cubic on held-out zoom data is {gain:.2f} dB (minimum {config.min_psnr_gain_db:.2f} dB)"
        )
    ssim_gain = report["heldout_ssim"] - report["heldout_ssim_cubic"]
    if not ssim_gain >= config.min_ssim_gain:
        reasons.append(
            f"SSIM gain over cubic on held-out zoom data is {ssim_gain:.3f} (minimum {config.min_ssim_gain:.3f})"
        )
    if not report["heldout_ms_ssim"] >= config.min_ms_ssim:
        reasons.append(
            f"MS-SSIM against held-out zoom data is {report['heldout_ms_ssim']:.3f} (minimum {config.min_ms_ssim:.3f})"
        )
    res: ResolutionFigures = report["effective_resolution_mm"]
    if res.after is None:
        reasons.append(
            f"the recovered volume's effective resolution is not measurable: blurring the zoom explains "
            f"{res.after_r2:.2f} of its variance on held-out data (minimum {config.min_resolution_fit_r2:.2f})"
        )
    elif res.before is not None and res.before > 0 and res.after > config.max_resolution_ratio * res.before:
        reasons.append(
            f"effective resolution did not improve: {res.after * 1000:.1f} um after vs {res.before * 1000:.1f} um for "
            f"cubic "
            f"(allowed ratio {config.max_resolution_ratio:.2f})"
        )
    hal: HallucinationFigures = report["hallucination"]
    if hal.outside_over_inside is not None and not hal.outside_over_inside <= config.max_consistency_ratio:
        reasons.append(
            f"outside the zoom the output agrees {hal.outside_over_inside:.2f}x worse with the scout than inside it "
            f"(maximum {config.max_consistency_ratio:.2f}): possible hallucination"
        )
    features: FeatureTrust | None = report.get("features")
    if features is not None:
        reasons += feature_reasons(
            features, config.min_feature_recall_gain, config.max_false_feature_fraction, config.min_features
        )
    return reasons


def build_trust_report(
    recovered_heldout: np.ndarray,
    cubic_heldout: np.ndarray,
    zoom_heldout: np.ndarray,
    mask: np.ndarray | None,
    voxel_mm: float,
    config: TrustConfig,
    *,
    outside_pair: tuple[np.ndarray, np.ndarray] | None = None,
    outside_mask: np.ndarray | None = None,
    scout_heldout: np.ndarray | None = None,
    halves_pair: tuple[np.ndarray, np.ndarray] | None = None,
    test_slab_z: tuple[int, int] | None = None,
) -> TrustReport:
    """Trust figures and flags for one pair.

    ``cubic_heldout`` is the scout on the zoom grid (cubic upsampling), so it
    also serves to estimate the scout's PSF. ``outside_pair`` is
    ``(recovered, scout_on_zoom_grid)`` for (a sample of) the region outside the
    zoom, with ``outside_mask`` (see :func:`~pipeline.evaluate.consistency.outside_zoom_mask`);
    ``scout_heldout`` is the scout as it appears in ``outside_pair`` (e.g.
    reconstructed onto the zoom grid) on the held-out region, so the scout PSF
    is fitted on the same kind of data it is applied to (default:
    ``cubic_heldout``); ``halves_pair`` the outputs of two models trained on different zoom
    halves, if the pipeline trained them. With ``config.features`` the pores of the recovered
    volume, of ``cubic_heldout`` and of ``scout_heldout`` are matched to the zoom's.
    """
    scout_heldout = cubic_heldout if scout_heldout is None else scout_heldout
    for name, array in (
        ("cubic_heldout", cubic_heldout),
        ("zoom_heldout", zoom_heldout),
        ("scout_heldout", scout_heldout),
    ):
        if array.shape != recovered_heldout.shape:
            raise ValueError(f"{name} shape {array.shape} differs from recovered_heldout {recovered_heldout.shape}")
    mask = np.ones(zoom_heldout.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    recovered_fit = fit_gaussian_blur(recovered_heldout, zoom_heldout, mask, config.max_resolution_sigma_px)
    cubic_fit = fit_gaussian_blur(cubic_heldout, zoom_heldout, mask, config.max_resolution_sigma_px)
    psf = (
        cubic_fit
        if scout_heldout is cubic_heldout
        else fit_gaussian_blur(scout_heldout, zoom_heldout, mask, config.max_resolution_sigma_px)
    )
    consistency = scout_consistency(
        psf, recovered_heldout, scout_heldout, zoom_heldout, mask, outside_pair=outside_pair, outside_mask=outside_mask
    )
    hallucination = HallucinationFigures(
        scout_psf_fwhm_mm=psf.fwhm_mm(voxel_mm),
        inside_ratio=consistency.inside_ratio,
        outside_ratio=consistency.outside_ratio,
        outside_over_inside=consistency.outside_over_inside,
        halves_disagreement=halves_disagreement(*halves_pair, outside_mask) if halves_pair is not None else None,
    )
    psnr = metrics.psnr_db(recovered_heldout, zoom_heldout, mask)
    psnr_cubic = metrics.psnr_db(cubic_heldout, zoom_heldout, mask)
    figures = {
        "heldout_psnr_db": psnr,
        "heldout_psnr_cubic_db": psnr_cubic,
        "psnr_gain_db": psnr - psnr_cubic
        if math.isfinite(psnr - psnr_cubic)
        else (math.inf if psnr > psnr_cubic else 0.0),
        "heldout_ssim": metrics.ssim(recovered_heldout, zoom_heldout, mask),
        "heldout_ssim_cubic": metrics.ssim(cubic_heldout, zoom_heldout, mask),
        "heldout_ms_ssim": metrics.ms_ssim(recovered_heldout, zoom_heldout, mask, config.ms_ssim_scales),
        "heldout_ms_ssim_cubic": metrics.ms_ssim(cubic_heldout, zoom_heldout, mask, config.ms_ssim_scales),
        "effective_resolution_mm": ResolutionFigures(
            before=_measurable(cubic_fit, voxel_mm, config),
            after=_measurable(recovered_fit, voxel_mm, config),
            before_r2=cubic_fit.explained,
            after_r2=recovered_fit.explained,
        ),
        "hallucination": hallucination,
        "heldout_voxels": int(mask.sum()),
        "test_slab_z": test_slab_z,
        "features": _features(recovered_heldout, cubic_heldout, scout_heldout, zoom_heldout, mask, voxel_mm, config),
    }
    reasons = _reasons(figures, config)
    return TrustReport(**figures, flagged=bool(reasons), reasons=reasons)


def _measurable(fit: GaussianFit, voxel_mm: float, config: TrustConfig) -> float | None:
    """The fit's FWHM (mm), or None when it explains too little of the image for a resolution to mean anything."""
    return fit.fwhm_mm(voxel_mm) if fit.explained >= config.min_resolution_fit_r2 else None


def _features(recovered, cubic, scout, zoom, mask, voxel_mm: float, config: TrustConfig) -> FeatureTrust | None:
    """Pore recall and false features of the recovered volume and the baselines (None when switched off)."""
    if not config.features:
        return None
    baselines = {"cubic": cubic} if scout is cubic else {"cubic": cubic, "scout_on_grid": scout}
    return feature_trust(recovered, zoom, mask, voxel_mm, baselines, config.pores)


def write_disagreement_png(
    path: Path,
    recovered: np.ndarray,
    zoom: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    cubic: np.ndarray | None = None,
    scales: int = 3,
    slice_index: int | None = None,
) -> Path:
    """PNG of one z slice: zoom, (cubic,) recovered and ``1 - MS-SSIM`` (where the output disagrees with the zoom)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from models.atomic import atomic_path

    disagreement = 1.0 - metrics.ms_ssim_map(recovered, zoom, mask, scales)
    if mask is not None:
        disagreement = np.where(mask, disagreement, np.nan)
    k = zoom.shape[0] // 2 if slice_index is None else slice_index
    panels = (
        [("zoom (held out)", zoom[k])]
        + ([("cubic", cubic[k])] if cubic is not None else [])
        + [("recovered", recovered[k])]
    )
    low, high = np.percentile(zoom, [0.5, 99.5])
    figure = Figure(figsize=(3.2 * (len(panels) + 1), 3.4))
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(panels) + 1)
    for ax, (title, image) in zip(axes, panels):
        ax.imshow(image, cmap="gray", vmin=low, vmax=high)
        ax.set_title(title)
    shown = axes[-1].imshow(disagreement[k], cmap="magma", vmin=0.0, vmax=max(0.05, float(np.nanmax(disagreement[k]))))
    axes[-1].set_title("1 - MS-SSIM")
    figure.colorbar(shown, ax=axes[-1], fraction=0.046)
    for ax in axes:
        ax.set_axis_off()
    figure.suptitle(f"disagreement with held-out zoom data, slice z={k}")
    path = Path(path)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=80)
    return path
