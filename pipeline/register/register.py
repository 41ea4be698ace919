"""Register the scout onto the zoom: stage prior, FFT, Mattes MI translation, then 9 parameters.

Semantics: the zoom lives on ``zoom_grid`` in the zoom frame; the scout was
reconstructed over the zoom's box at zoom voxel size in the scout frame
(``scout_box_grid``, centred at the stage prior). The unknown is
``p_scout = A @ p_zoom + t``; the result gives it as ``zoom_grid_in_scout`` so
the scout can be reconstructed (or resampled) straight onto the zoom voxels.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from pipeline.errors import RegistrationError
from models.events import CancelToken, ProgressCallback, ProgressEvent, emit, step
from pipeline.grid import VolumeGrid
from pipeline.register import mattes
from pipeline.register.config import RegistrationConfig
from pipeline.register.matching import matching_sigma_voxels, smooth
from pipeline.register.frames import (
    WorkingFrames,
    displacement_rms_voxels,
    grid_in_scout,
    rotation_and_scale,
    rotation_vector_deg,
)
from pipeline.register.phase import phase_correlate
from pipeline.register.resample import is_covered, masked_ncc, resample_onto
from pipeline.register.result import Confidence, Registered, RegistrationResult, StepSeconds

STAGE = "register"
ReconstructScout = Callable[[VolumeGrid], tuple[np.ndarray, np.ndarray]]


def _check_inputs(zoom: np.ndarray, zoom_mask: np.ndarray, zoom_grid: VolumeGrid, scout: np.ndarray, scout_mask: np.ndarray, scout_box_grid: VolumeGrid) -> None:
    problems = []
    if zoom.shape != zoom_grid.shape_zyx or zoom_mask.shape != zoom.shape:
        problems.append(f"zoom {zoom.shape} / mask {zoom_mask.shape} do not match the zoom grid {zoom_grid.shape_zyx}")
    if scout.shape != scout_box_grid.shape_zyx or scout_mask.shape != scout.shape:
        problems.append(f"scout {scout.shape} / mask {scout_mask.shape} do not match the scout box grid {scout_box_grid.shape_zyx}")
    if scout_box_grid.shape_zyx != zoom_grid.shape_zyx or not np.allclose(scout_box_grid.spacing_mm, zoom_grid.spacing_mm):
        problems.append("the scout box grid must have the zoom grid's shape and spacing")
    if not problems and np.count_nonzero(zoom_mask & scout_mask) < 1000:
        problems.append("fewer than 1000 voxels lie inside both masks")
    if problems:
        raise RegistrationError("; ".join(problems))


def _itk_message(exc: Exception) -> str:
    """The useful line of an ITK exception (it starts with the source file)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    errors = [line.split("):", 1)[-1].strip() for line in lines if "ERROR" in line]
    return errors[0] if errors else (lines[-1] if lines else type(exc).__name__)


def _model_residual_voxels(linear: np.ndarray, rotation: np.ndarray, scale: np.ndarray, frames: WorkingFrames) -> float:
    """Largest displacement at the zoom box corners between ITK's matrix and ``R @ diag(s)``."""
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float)
    corners *= np.asarray(frames.zoom_grid.size_mm) / 2.0 / frames.unit_mm
    diff = corners @ (linear - rotation @ np.diag(scale)).T
    return float(np.max(np.linalg.norm(diff, axis=1)) * frames.unit_mm / frames.zoom_grid.voxel_mm)


def _shape_failures(config: RegistrationConfig, rotation_deg: np.ndarray, scale: np.ndarray) -> list[str]:
    """Rotation or scale outside what a remount or a calibration error can explain."""
    failures = []
    angle = float(np.linalg.norm(rotation_deg))
    if angle > config.max_rotation_deg:
        failures.append(f"rotation {angle:.2f} deg exceeds {config.max_rotation_deg} deg")
    if np.any(np.abs(scale - 1.0) > config.max_scale_error):
        failures.append(f"scale {np.round(scale, 4).tolist()} is more than {config.max_scale_error:.0%} from 1")
    return failures


def _geometry_failures(config: RegistrationConfig, frames: WorkingFrames, stage_error_mm: np.ndarray, rotation_deg: np.ndarray, scale: np.ndarray, metric_prior: float, metric_final: float) -> list[str]:
    failures = []
    if not metric_final < metric_prior - 1e-4 * abs(metric_prior):
        failures.append(f"the metric did not improve (prior {metric_prior:.4f}, final {metric_final:.4f})")
    bound_mm = config.bound_margin * config.search_radius_fraction * np.asarray(frames.zoom_grid.size_mm)
    if np.any(np.abs(stage_error_mm) > bound_mm):
        failures.append(f"the stage error {np.round(stage_error_mm, 4).tolist()} mm is at or beyond the search bounds {np.round(bound_mm, 4).tolist()} mm")
    return failures + _shape_failures(config, rotation_deg, scale)


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
    scout box (otherwise the scout box is resampled). Raises
    :class:`RegistrationError` with all figures so far when the result cannot
    be trusted.
    """
    _check_inputs(zoom, zoom_mask, zoom_grid, scout, scout_mask, scout_box_grid)
    zoom_mask = zoom_mask.astype(bool)
    scout_mask = scout_mask.astype(bool)
    emit(progress, ProgressEvent(stage=STAGE, kind="stage_started"))
    frames = WorkingFrames(zoom_grid, scout_box_grid)
    voxel_mm = zoom_grid.voxel_mm
    figures: dict[str, Any] = {"prior_centre_mm": frames.prior_mm.tolist()}
    warnings: list[str] = []

    # Step 0: match the zoom to a much blurrier scout (the prior is close enough to tell).
    match_sigma, match_ncc = matching_sigma_voxels(zoom, scout, zoom_mask & scout_mask, config.match_sigmas_voxels) if config.match_resolution else (0.0, 0.0)
    zoom_sigma = match_sigma if match_sigma >= config.match_min_sigma_voxels else 0.0
    figures.update(match_sigma_voxels=match_sigma, match_ncc=match_ncc, zoom_smoothing_voxels=zoom_sigma)
    if zoom_sigma > 0:
        warnings.append(f"the scout is much blurrier than the zoom: the zoom is smoothed by {zoom_sigma:g} voxels to register")
    zoom = smooth(zoom, zoom_sigma)

    # Step 1: FFT phase correlation.
    start = time.perf_counter()
    max_shift = tuple(config.search_radius_fraction * n for n in zoom_grid.shape_xyz)
    phase = phase_correlate(zoom, scout, zoom_mask & scout_mask, max_shift, config.fft_whitening, config.fft_taper_fraction)
    fft_shift_mm = scout_box_grid.direction_matrix @ (np.asarray(phase.shift_voxels) * np.asarray(scout_box_grid.spacing_mm))
    tau_fft = fft_shift_mm / frames.unit_mm
    if phase.at_search_edge:
        warnings.append("the FFT peak lies at the edge of the search radius; the stage error may be larger than searched")
    seconds_fft = time.perf_counter() - start
    figures.update(fft_shift_mm=fft_shift_mm.tolist(), fft_peak_to_noise=phase.peak_to_noise, seconds_fft=seconds_fft)
    step(progress, STAGE, 1, 4, seconds=seconds_fft)
    if cancel is not None:
        cancel.raise_if_cancelled("registration (FFT)")

    # Step 2: Mattes MI, translation only.
    images = mattes.make_images(frames, zoom, zoom_mask, scout, scout_mask)
    try:
        metric_prior = mattes.metric_value(images, config, mattes.translation_transform(np.zeros(3)))
        bound_tau = config.bound_margin * config.search_radius_fraction * max(zoom_grid.size_mm) / frames.unit_mm
        translation = mattes.optimise_translation(images, config, tau_fft, cancel, bound=bound_tau)
    except RuntimeError as exc:
        raise RegistrationError(f"the translation step failed (do scout and zoom show the same sample?): {_itk_message(exc)}", figures) from exc
    figures.update(metric_prior=metric_prior, metric_translation=translation.metric_end, seconds_translation=translation.seconds)
    step(progress, STAGE, 2, 4, seconds=translation.seconds, metric=translation.metric_end)

    # Step 3: 9 parameters from step 2.
    try:
        if zoom_sigma > 0:  # a blurry scout pins no rotation or scale: 9 parameters run away
            affine = translation
            warnings.append("the 9-parameter step was skipped (scout too blurry): translation only")
        else:
            affine = mattes.optimise_scale_versor(images, config, translation.tau, cancel)
        rotation, scale = rotation_and_scale(affine.linear)
    except (RuntimeError, ValueError) as exc:
        raise RegistrationError(f"the 9-parameter step failed: {_itk_message(exc)}", figures) from exc
    implausible = _shape_failures(config, rotation_vector_deg(rotation), scale) if affine is not translation else []
    if implausible and config.fallback_to_translation:
        # Coarse scouts (high ratios) pin the translation but barely the rotation and scale.
        warnings.append("the 9-parameter step left the plausible range (" + "; ".join(implausible) + "): the translation-only result is used")
        figures.update(affine_rejected_rotation_deg=rotation_vector_deg(rotation).tolist(), affine_rejected_scale=scale.tolist())
        affine = translation
        rotation, scale = rotation_and_scale(affine.linear)
    centre_mm = frames.centre_in_scout_mm(affine.tau)
    found_grid = grid_in_scout(zoom_grid, rotation, scale, centre_mm)
    translation_grid = grid_in_scout(zoom_grid, np.eye(3), np.ones(3), frames.centre_in_scout_mm(translation.tau))
    rotation_deg = rotation_vector_deg(rotation)
    stage_error_mm = centre_mm - frames.prior_mm
    figures.update(
        metric_value=affine.metric_end,
        stage_error_mm=stage_error_mm.tolist(),
        rotation_deg=rotation_deg.tolist(),
        scale=scale.tolist(),
        seconds_affine=affine.seconds,
    )
    step(progress, STAGE, 3, 4, seconds=affine.seconds, metric=affine.metric_end)
    if affine.metric_end > translation.metric_end:
        warnings.append(f"the 9-parameter step ended worse than the translation ({affine.metric_end:.4f} > {translation.metric_end:.4f})")
    for name, outcome in (("translation", translation), ("affine", affine)):
        if outcome.iterations >= config.max_iterations:
            warnings.append(f"the {name} optimiser stopped at its iteration limit: {outcome.stop_condition}")
    failures = _geometry_failures(config, frames, stage_error_mm, rotation_deg, scale, metric_prior, affine.metric_end)
    if failures:
        raise RegistrationError("registration failed: " + "; ".join(failures), figures)

    # Step 4: the scout on the registered zoom grid.
    start = time.perf_counter()
    covered = is_covered(found_grid, scout_box_grid)
    if reconstruct_scout is not None and (config.refine == "reconstruct" or not covered):
        registered, registered_mask = reconstruct_scout(found_grid)
        refined_by = "reconstruct"
        if registered.shape != zoom.shape or registered_mask.shape != zoom.shape:
            raise RegistrationError(f"reconstruct_scout returned shape {registered.shape}, expected {zoom.shape}", figures)
    else:
        registered, registered_mask = resample_onto(scout, scout_mask, scout_box_grid, found_grid, config.threads)
        refined_by = "resample"
        if not covered:
            lost = 1.0 - float(np.mean(registered_mask))
            warnings.append(f"the registered zoom box leaves the scout reconstruction; {lost:.1%} of the voxels have no scout data")
    registered = registered.astype(np.float32)
    registered_mask = registered_mask.astype(bool)
    seconds_resample = time.perf_counter() - start
    ncc_before = masked_ncc(zoom, scout, zoom_mask & scout_mask, config.ncc_smoothing_voxels)
    ncc_after = masked_ncc(zoom, registered, zoom_mask & registered_mask, config.ncc_smoothing_voxels)
    figures.update(ncc_before=ncc_before, ncc_after=ncc_after, seconds_resample=seconds_resample)
    step(progress, STAGE, 4, 4, seconds=seconds_resample, ncc=ncc_after)
    if ncc_after < config.min_correlation:
        raise RegistrationError(f"correlation after registration {ncc_after:.3f} is below {config.min_correlation}", figures)

    matrix = frames.zoom_to_scout_matrix(rotation @ np.diag(scale), affine.tau)
    result = RegistrationResult(
        zoom_grid_in_scout=found_grid,
        zoom_to_scout_matrix=tuple(tuple(float(v) for v in row) for row in matrix),
        translation_mm=tuple(float(v) for v in matrix[:, 3]),
        rotation_deg=tuple(float(v) for v in rotation_deg),
        scale=tuple(float(v) for v in scale),
        zoom_centre_in_scout_mm=tuple(float(v) for v in centre_mm),
        prior_centre_mm=tuple(float(v) for v in frames.prior_mm),
        stage_error_mm=tuple(float(v) for v in stage_error_mm),
        fft_shift_mm=tuple(float(v) for v in fft_shift_mm),
        metric_value=affine.metric_end,
        ncc_before=ncc_before,
        ncc_after=ncc_after,
        confidence=Confidence(
            fft_peak_to_noise=phase.peak_to_noise,
            fft_vs_translation_voxels=float(np.linalg.norm(translation.tau - tau_fft) * frames.unit_mm / voxel_mm),
            translation_vs_affine_rms_voxels=displacement_rms_voxels(found_grid, translation_grid, zoom_mask),
            model_residual_voxels=_model_residual_voxels(affine.linear, rotation, scale, frames),
            metric_prior=metric_prior,
            metric_translation=translation.metric_end,
        ),
        seconds=StepSeconds(fft=seconds_fft, translation=translation.seconds, affine=affine.seconds, resample=seconds_resample),
        refined_by=refined_by,
        iterations={"translation": translation.iterations, "affine": affine.iterations},
        warnings=warnings,
    )
    emit(progress, ProgressEvent(stage=STAGE, kind="stage_finished", values={"seconds": result.seconds.total, "ncc_after": ncc_after, "metric": affine.metric_end}))
    return Registered(result=result, scout=registered, mask=registered_mask)
