"""The registration steps, one function each, each returning a small frozen result.

FFT -> resolution match -> translation -> rotation and scale (with fallback). Every
step after the FFT may fail (an ITK exception, parameters that run away); it
then hands back the earlier step's result with a warning naming what failed,
so nothing already found is lost with the exception.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import ndimage

from models.events import CancelToken
from pipeline.register import mattes
from pipeline.register.checks import itk_message, search_bound_mm
from pipeline.register.config import RegistrationConfig
from pipeline.register.frames import WorkingFrames
from pipeline.register.matching import Resolution, estimate_resolution, highpass, smooth
from pipeline.register.phase import phase_correlate

Source = Literal["affine", "translation", "fft"]


@dataclass(frozen=True)
class FftStep:
    """Step 1: the phase-correlation shift (mm, scout frame, and working units) and its peak figures."""

    shift_mm: np.ndarray
    tau: np.ndarray
    peak_to_noise: float
    at_search_edge: bool
    seconds: float


@dataclass(frozen=True)
class MatchStep:
    """Step 2: the scout's resolution (at the FFT alignment) and the metric data derived from it."""

    resolution: Resolution
    zoom_smoothing_voxels: float
    highpass_voxels: float
    images: mattes.Images
    seconds: float


@dataclass(frozen=True)
class TranslationStep:
    """Step 3: the Mattes MI translation, or the FFT's when it failed (``failure`` says why)."""

    outcome: mattes.StepOutcome
    metric_prior: float
    source: Source
    failure: str | None = None


@dataclass(frozen=True)
class AffineStep:
    """Step 4: the rotation-and-scale map, or ``None`` when it failed or diverged (``failure`` says why)."""

    outcome: mattes.StepOutcome | None
    failure: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)


def fft_step(
    zoom: np.ndarray, scout: np.ndarray, mask: np.ndarray, frames: WorkingFrames, config: RegistrationConfig
) -> FftStep:
    """Phase correlation of the zoom inside the scout box within the search radius."""
    start = time.perf_counter()
    max_shift = tuple(config.search_radius_fraction * n for n in frames.zoom_grid.shape_xyz)
    phase = phase_correlate(zoom, scout, mask, max_shift, config.fft_whitening, config.fft_taper_fraction)
    box = frames.scout_box_grid
    shift_mm = box.direction_matrix @ (np.asarray(phase.shift_voxels) * np.asarray(box.spacing_mm))
    return FftStep(
        shift_mm=shift_mm,
        tau=shift_mm / frames.unit_mm,
        peak_to_noise=phase.peak_to_noise,
        at_search_edge=phase.at_search_edge,
        seconds=time.perf_counter() - start,
    )


def _aligned(volume: np.ndarray, shift_voxels_xyz: np.ndarray, order: int) -> np.ndarray:
    """``volume[i + shift]`` (linear or nearest), zero outside."""
    return ndimage.shift(volume, -np.asarray(shift_voxels_xyz)[::-1], order=order, mode="constant", cval=0)


def match_step(
    zoom: np.ndarray,
    zoom_mask: np.ndarray,
    scout: np.ndarray,
    scout_mask: np.ndarray,
    frames: WorkingFrames,
    fft: FftStep,
    config: RegistrationConfig,
) -> MatchStep:
    """Estimate the scout's blur at the FFT alignment; smooth (and high-pass) the metric data accordingly."""
    start = time.perf_counter()
    shift_voxels = np.linalg.solve(frames.scout_box_grid.direction_matrix, fft.shift_mm) / np.asarray(
        frames.scout_box_grid.spacing_mm
    )
    aligned = _aligned(scout.astype(np.float32), shift_voxels, 1)
    aligned_mask = _aligned(scout_mask.astype(np.uint8), shift_voxels, 0).astype(bool) & zoom_mask
    # the metric samples only the overlap at the FFT shift, a little inside it
    overlap = (
        ndimage.binary_erosion(aligned_mask, iterations=2) if np.count_nonzero(aligned_mask) > 8000 else aligned_mask
    )
    candidates = config.match_sigmas_voxels if config.match_resolution else (0.0,)
    resolution = estimate_resolution(
        zoom, aligned, aligned_mask, candidates, config.ncc_smoothing_voxels, config.highpass_factor
    )
    # the metric data use the first (unfiltered) blur estimate; coarse detection and the floor the band-passed one
    metric_sigma = resolution.metric_sigma_voxels
    sigma = metric_sigma * config.match_fraction if metric_sigma >= config.match_min_sigma_voxels else 0.0
    coarse = resolution.sigma_voxels >= config.coarse_min_sigma_voxels
    # issue 14: the interior zoom FDK's smooth bias steers the scale (x/y at 3:1, all axes at 5:1)
    factor = config.coarse_metric_highpass_factor if coarse else config.metric_highpass_factor
    hp = factor * max(metric_sigma, 1.0)
    images = mattes.make_images(
        frames, highpass(smooth(zoom, sigma), zoom_mask, hp), overlap, highpass(scout, scout_mask, hp), scout_mask
    )
    return MatchStep(
        resolution=resolution,
        zoom_smoothing_voxels=sigma,
        highpass_voxels=hp,
        images=images,
        seconds=time.perf_counter() - start,
    )


def translation_step(
    match: MatchStep, fft: FftStep, frames: WorkingFrames, config: RegistrationConfig, cancel: CancelToken | None
) -> TranslationStep:
    """Mattes MI translation from the FFT shift, boxed to the search bound; the FFT shift when it fails."""
    images = match.images
    prior = mattes.translation_transform(np.zeros(3))
    try:
        metric_prior = mattes.metric_value(images, config, prior)
    except RuntimeError as exc:
        raise mattes.StepDiverged(f"the metric cannot be evaluated at the stage prior: {itk_message(exc)}") from exc
    bound = float(np.max(search_bound_mm(config, frames))) / frames.unit_mm
    try:
        outcome = mattes.optimise_translation(images, config, fft.tau, cancel, bound=bound)
    except RuntimeError as exc:
        if not config.fallback_to_translation:
            raise
        failure = f"the translation step failed ({itk_message(exc)}): the FFT shift is used"
        tau = np.clip(fft.tau, -bound, bound)
        fallback = mattes.StepOutcome(
            np.eye(3), tau, metric_or_nan(images, config, mattes.translation_transform(tau)), 0, failure, 0.0
        )
        return TranslationStep(outcome=fallback, metric_prior=metric_prior, source="fft", failure=failure)
    return TranslationStep(outcome=outcome, metric_prior=metric_prior, source="translation")


def metric_or_nan(images: mattes.Images, config: RegistrationConfig, transform: object) -> float:
    """Mattes MI of ``transform``, NaN when ITK cannot evaluate it (no overlap)."""
    try:
        return mattes.metric_value(images, config, transform)  # type: ignore[arg-type]
    except RuntimeError:
        return float("nan")


def affine_step(
    match: MatchStep,
    translation: TranslationStep,
    frames: WorkingFrames,
    config: RegistrationConfig,
    cancel: CancelToken | None,
) -> AffineStep:
    """The rotation-and-scale map from the translation, watched for runaway parameters; ``None`` outcome when it
    fails."""
    limits = mattes.Limits(
        rotation_deg=config.divergence_factor * config.max_rotation_deg,
        scale_error=config.divergence_factor * config.max_scale_error,
        translation=config.divergence_factor * float(np.max(search_bound_mm(config, frames))) / frames.unit_mm,
    )
    try:
        coarse = match.resolution.sigma_voxels >= config.coarse_min_sigma_voxels
        model = config.coarse_model if coarse else config.affine_model
        outcome = mattes.optimise_scale_versor(
            match.images, config, translation.outcome.tau, cancel, limits, model=model
        )
    except mattes.StepDiverged as exc:
        return AffineStep(outcome=None, failure=f"the rotation-and-scale step diverged: {exc}")
    except RuntimeError as exc:
        return AffineStep(outcome=None, failure=f"the rotation-and-scale step failed: {itk_message(exc)}")
    warnings = []
    if outcome.metric_end > translation.outcome.metric_end:
        warnings.append(
            f"the rotation-and-scale step ended worse than the translation ({outcome.metric_end:.4f} > "
            f"{translation.outcome.metric_end:.4f})"
        )
    return AffineStep(outcome=outcome, warnings=tuple(warnings))
