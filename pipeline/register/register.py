"""Register the scout onto the zoom: stage prior, FFT, resolution match, Mattes MI translation, rotation and scale,
refine.

Semantics: the zoom lives on ``zoom_grid`` in the zoom frame; the scout was
reconstructed over the zoom's box at zoom voxel size in the scout frame
(``scout_box_grid``, centred at the stage prior). The unknown is
``p_scout = A @ p_zoom + t``; the result gives it as ``zoom_grid_in_scout`` so
the scout can be reconstructed (or resampled) straight onto the zoom voxels.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.events import CancelToken, ProgressCallback, step
from pipeline.errors import RegistrationError
from pipeline.grid import VolumeGrid
from pipeline.register import mattes
from pipeline.register.checks import check_inputs, correlation_floor, itk_message
from pipeline.register.choose import Candidate, Choice, candidate, choose, judged_ncc
from pipeline.register.config import RegistrationConfig
from pipeline.register.frames import WorkingFrames, displacement_rms_voxels, grid_in_scout
from pipeline.register.matching import Resolution, flatten_slices, highpass
from pipeline.register.resample import is_covered, masked_ncc
from pipeline.register.result import Confidence, Registered, RegistrationResult, StepSeconds
from pipeline.register.steps import (
    AffineStep,
    FftStep,
    MatchStep,
    TranslationStep,
    affine_step,
    fft_step,
    match_step,
    metric_or_nan,
    translation_step,
)

STAGE = "register"
STEPS = 5
ReconstructScout = Callable[[VolumeGrid], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class RefineStep:
    """The scout on the chosen zoom grid, how it got there, and the correlation figures."""

    scout: np.ndarray
    mask: np.ndarray
    refined_by: str
    ncc_after: float
    ncc_judged: float
    seconds: float
    warnings: tuple[str, ...]


def refine_step(
    choice: Choice,
    zoom: np.ndarray,
    zoom_mask: np.ndarray,
    frames: WorkingFrames,
    config: RegistrationConfig,
    reconstruct_scout: ReconstructScout | None,
    resolution: Resolution,
    flat_zoom: np.ndarray,
) -> RefineStep:
    """Reconstruct the scout onto the chosen grid (or keep the resampled box when allowed and enough).

    ``flat_zoom`` is the zoom as the metric saw it (slice-flattened when configured), for the judged correlation.
    """
    start = time.perf_counter()
    grid = choice.candidate.grid
    covered = is_covered(grid, frames.scout_box_grid)
    warnings: tuple[str, ...] = ()
    if reconstruct_scout is not None and (config.refine == "reconstruct" or not covered):
        volume, mask = reconstruct_scout(grid)
        refined_by = "reconstruct"
        if volume.shape != zoom.shape or mask.shape != zoom.shape:
            raise RegistrationError(f"reconstruct_scout returned shape {volume.shape}, expected {zoom.shape}")
    else:
        volume, mask = choice.box
        refined_by = "resample"
        if not covered:
            warnings = (
                f"the registered zoom box leaves the scout reconstruction; {1.0 - float(np.mean(mask)):.1%} of the "
                f"voxels have no scout data",
            )
    volume, mask = volume.astype(np.float32), mask.astype(bool)
    ncc = masked_ncc(zoom, volume, zoom_mask & mask, config.ncc_smoothing_voxels)
    zoom_band = highpass(flat_zoom, zoom_mask, resolution.highpass_voxels)
    judged = judged_ncc(zoom_band, volume, zoom_mask & mask, resolution, config.flatten_slices)
    return RefineStep(volume, mask, refined_by, ncc, judged, time.perf_counter() - start, warnings)


def _candidates(
    frames: WorkingFrames,
    translation: TranslationStep,
    affine: AffineStep,
    fft: FftStep,
    match: MatchStep,
    config: RegistrationConfig,
) -> list[Candidate]:
    """Maps in order of preference: rotation and scale (if it ran), translation, FFT (if the translation moved away from
    it)."""
    found = []
    if affine.outcome is not None:
        try:
            found.append(candidate("affine", affine.outcome, frames))
        except ValueError:
            pass  # a mirroring map: not a candidate
    found.append(candidate(translation.source, translation.outcome, frames))
    if translation.source != "fft" and not fft.at_search_edge:  # a peak at the edge of the search is no peak found
        metric = metric_or_nan(match.images, config, mattes.translation_transform(fft.tau))
        fft_outcome = mattes.StepOutcome(np.eye(3), fft.tau, metric, 0, "fft", fft.seconds)
        found.append(candidate("fft", fft_outcome, frames))
    return found


def register_scout_to_zoom(
    zoom: np.ndarray,
    zoom_mask: np.ndarray,
    zoom_grid: VolumeGrid,
    scout: np.ndarray,
    scout_mask: np.ndarray,
    scout_box_grid: VolumeGrid,
    config: RegistrationConfig = RegistrationConfig(),
    *,
    reconstruct_scout: ReconstructScout | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Registered:
    """Find the zoom->scout map and bring the scout onto the zoom voxels.

    ``reconstruct_scout(grid) -> (volume, mask)`` reconstructs the scout onto
    any grid; it is used for the final registered scout when
    ``config.refine == "reconstruct"`` or when the registered box leaves the
    scout box (otherwise the scout box is resampled). A step that fails hands
    back the earlier step's result with a warning; raises
    :class:`RegistrationError` with all figures so far when no step gives a
    plausible, above-floor result.
    """
    check_inputs(zoom, zoom_mask, zoom_grid, scout, scout_mask, scout_box_grid)
    zoom_mask, scout_mask = zoom_mask.astype(bool), scout_mask.astype(bool)
    frames = WorkingFrames(zoom_grid, scout_box_grid)
    figures: dict[str, Any] = {"prior_centre_mm": frames.prior_mm.tolist()}
    warnings: list[str] = []
    # the metric's data: each volume's z-slice profile (the sample's end faces, each scan its own way) removed
    flat_zoom = flatten_slices(zoom, zoom_mask) if config.flatten_slices else zoom
    flat_scout = flatten_slices(scout, scout_mask) if config.flatten_slices else scout

    fft = fft_step(flat_zoom, flat_scout, zoom_mask & scout_mask, frames, config)
    figures.update(fft_shift_mm=fft.shift_mm.tolist(), fft_peak_to_noise=fft.peak_to_noise, seconds_fft=fft.seconds)
    if fft.at_search_edge:
        warnings.append(
            "the FFT peak lies at the edge of the search radius; the stage error may be larger than searched"
        )
    _progress(progress, cancel, 1, "FFT", seconds=fft.seconds)

    match = match_step(flat_zoom, zoom_mask, flat_scout, scout_mask, frames, fft, config)
    _check_structure(match, config, figures)
    _progress(
        progress, cancel, 2, "resolution match", seconds=match.seconds, achievable_ncc=match.resolution.achievable_ncc
    )

    try:
        translation = translation_step(match, fft, frames, config, cancel)
    except RuntimeError as exc:
        raise RegistrationError(
            f"the translation step failed (do scout and zoom show the same sample?): {itk_message(exc)}", figures
        ) from exc
    figures.update(
        metric_prior=translation.metric_prior,
        metric_translation=translation.outcome.metric_end,
        seconds_translation=translation.outcome.seconds,
    )
    warnings += [translation.failure] if translation.failure else []
    _progress(
        progress, cancel, 3, "translation", seconds=translation.outcome.seconds, metric=translation.outcome.metric_end
    )

    affine = affine_step(match, translation, frames, config, cancel)
    if affine.failure:
        figures["affine_failure"] = affine.failure
        if not config.fallback_to_translation:
            raise RegistrationError(affine.failure, figures)
        warnings.append(f"{affine.failure}: the translation-only result is used")
    warnings += list(affine.warnings)
    affine_seconds = affine.outcome.seconds if affine.outcome is not None else 0.0
    _progress(progress, cancel, 4, "rotation and scale", seconds=affine_seconds)

    choice = choose(
        _candidates(frames, translation, affine, fft, match, config),
        flat_zoom,
        zoom_mask,
        scout,
        scout_mask,
        frames,
        config,
        match.resolution,
        translation.metric_prior,
        figures,
    )
    warnings += list(choice.warnings)
    for name, outcome in (("translation", translation.outcome), ("affine", affine.outcome)):
        if outcome is not None and outcome.iterations >= config.max_iterations:
            warnings.append(f"the {name} optimiser stopped at its iteration limit: {outcome.stop_condition}")

    refined = refine_step(choice, zoom, zoom_mask, frames, config, reconstruct_scout, match.resolution, flat_zoom)
    warnings += list(refined.warnings)
    ncc_before = masked_ncc(zoom, scout, zoom_mask & scout_mask, config.ncc_smoothing_voxels)
    floor = correlation_floor(config, match.resolution.achievable_ncc)
    figures.update(
        ncc_before=ncc_before,
        ncc_after=refined.ncc_after,
        ncc_judged=refined.ncc_judged,
        correlation_floor=floor,
        seconds_resample=refined.seconds,
    )
    step(progress, STAGE, 5, STEPS, seconds=refined.seconds, ncc=refined.ncc_after)
    if refined.ncc_judged < floor:
        raise RegistrationError(
            f"correlation after registration {refined.ncc_judged:.3f} is below the floor {floor:.3f} "
            f"({config.min_correlation_fraction:g} of the achievable {match.resolution.achievable_ncc:.3f})",
            figures,
        )
    result = _result(frames, fft, match, translation, affine, choice, refined, ncc_before, floor, warnings, zoom_mask)
    return Registered(result=result, scout=refined.scout, mask=refined.mask)


def _progress(
    progress: ProgressCallback | None, cancel: CancelToken | None, done: int, name: str, **values: float
) -> None:
    step(progress, STAGE, done, STEPS, **values)
    if cancel is not None:
        cancel.raise_if_cancelled(f"registration ({name})")


def _check_structure(match: MatchStep, config: RegistrationConfig, figures: dict[str, Any]) -> None:
    """Fail a pair whose zoom has no structure left at the scout's resolution (nothing to register on)."""
    r = match.resolution
    figures.update(
        scout_blur_sigma_voxels=r.sigma_voxels,
        matched_ncc=r.matched_ncc,
        achievable_ncc=r.achievable_ncc,
        structure_ncc=r.structure_ncc,
        zoom_smoothing_voxels=match.zoom_smoothing_voxels,
        seconds_match=match.seconds,
    )
    if r.structure_ncc < config.min_achievable_correlation:
        raise RegistrationError(
            f"the zoom has no structure at the scout's resolution: the best correlation a scout can reach with it "
            f"(the zoom against itself blurred by the scout's {r.sigma_voxels:g} voxels) is {r.structure_ncc:.3f}, "
            f"below {config.min_achievable_correlation}",
            figures,
        )


def _model_residual_voxels(c: Candidate, frames: WorkingFrames) -> float:
    """Largest displacement at the zoom box corners between ITK's matrix and ``R @ diag(s)``."""
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float)
    corners *= np.asarray(frames.zoom_grid.size_mm) / 2.0 / frames.unit_mm
    diff = corners @ (c.outcome.linear - c.rotation @ np.diag(c.scale)).T
    return float(np.max(np.linalg.norm(diff, axis=1)) * frames.unit_mm / frames.zoom_grid.voxel_mm)


def _result(
    frames: WorkingFrames,
    fft: FftStep,
    match: MatchStep,
    translation: TranslationStep,
    affine: AffineStep,
    choice: Choice,
    refined: RefineStep,
    ncc_before: float,
    floor: float,
    warnings: list[str],
    zoom_mask: np.ndarray,
) -> RegistrationResult:
    c = choice.candidate
    zoom_grid = frames.zoom_grid
    matrix = frames.zoom_to_scout_matrix(c.rotation @ np.diag(c.scale), c.outcome.tau)
    translation_grid = grid_in_scout(
        zoom_grid, np.eye(3), np.ones(3), frames.centre_in_scout_mm(translation.outcome.tau)
    )
    r = match.resolution
    return RegistrationResult(
        zoom_grid_in_scout=c.grid,
        zoom_to_scout_matrix=tuple(tuple(float(v) for v in row) for row in matrix),
        translation_mm=tuple(float(v) for v in matrix[:, 3]),
        rotation_deg=tuple(float(v) for v in c.rotation_deg),
        scale=tuple(float(v) for v in c.scale),
        zoom_centre_in_scout_mm=tuple(float(v) for v in c.centre_mm),
        prior_centre_mm=tuple(float(v) for v in frames.prior_mm),
        stage_error_mm=tuple(float(v) for v in c.centre_mm - frames.prior_mm),
        fft_shift_mm=tuple(float(v) for v in fft.shift_mm),
        metric_value=c.outcome.metric_end,
        ncc_before=ncc_before,
        ncc_after=refined.ncc_after,
        confidence=Confidence(
            fft_peak_to_noise=fft.peak_to_noise,
            fft_vs_translation_voxels=float(
                np.linalg.norm(translation.outcome.tau - fft.tau) * frames.unit_mm / zoom_grid.voxel_mm
            ),
            translation_vs_affine_rms_voxels=displacement_rms_voxels(c.grid, translation_grid, zoom_mask),
            model_residual_voxels=_model_residual_voxels(c, frames),
            metric_prior=translation.metric_prior,
            metric_translation=translation.outcome.metric_end,
            scout_blur_sigma_voxels=r.sigma_voxels,
            structure_ncc=r.structure_ncc,
            achievable_ncc=r.achievable_ncc,
            correlation_floor=floor,
            judged_ncc=refined.ncc_judged,
            judge_smoothing_voxels=r.judge_smoothing_voxels,
            metric_zoom_smoothing_voxels=match.zoom_smoothing_voxels,
            metric_highpass_voxels=match.highpass_voxels,
        ),
        seconds=StepSeconds(
            fft=fft.seconds,
            match=match.seconds,
            translation=translation.outcome.seconds,
            affine=affine.outcome.seconds if affine.outcome is not None else 0.0,
            resample=refined.seconds,
        ),
        refined_by=refined.refined_by,  # type: ignore[arg-type]
        transform_from=c.source,
        iterations={
            "translation": translation.outcome.iterations,
            "affine": affine.outcome.iterations if affine.outcome is not None else 0,
        },
        warnings=warnings,
    )
