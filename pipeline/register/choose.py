"""Pick the result to use: the latest step whose map is plausible and whose correlation clears the floor.

Candidates come in order of preference (rotation and scale, translation, FFT). Each
is judged on the scout box resampled onto its grid; the first that passes
wins, and every one passed over leaves a warning naming why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.errors import RegistrationError
from pipeline.grid import VolumeGrid
from pipeline.register.checks import correlation_floor, geometry_failures, shape_failures
from pipeline.register.config import RegistrationConfig
from pipeline.register.frames import WorkingFrames, grid_in_scout, rotation_and_scale, rotation_vector_deg
from pipeline.register.matching import Resolution, flatten_slices, highpass
from pipeline.register.mattes import StepOutcome
from pipeline.register.resample import masked_ncc, resample_onto
from pipeline.register.steps import Source

NAMES = {"affine": "rotation-and-scale (step 3)", "translation": "translation", "fft": "FFT"}


@dataclass(frozen=True)
class Candidate:
    """One step's map as a grid in the scout frame, with its split into rotation and scale."""

    source: Source
    outcome: StepOutcome
    rotation: np.ndarray
    scale: np.ndarray
    centre_mm: np.ndarray
    grid: VolumeGrid

    @property
    def rotation_deg(self) -> np.ndarray:
        return rotation_vector_deg(self.rotation)


@dataclass(frozen=True)
class Choice:
    """The chosen candidate, its correlation on the resampled scout box (and that box), and the warnings."""

    candidate: Candidate
    ncc_box: float
    box: tuple[np.ndarray, np.ndarray]
    warnings: tuple[str, ...]


def judged_ncc(
    zoom_band: np.ndarray, scout: np.ndarray, mask: np.ndarray, resolution: Resolution, flatten: bool = False
) -> float:
    """NCC of the band-passed zoom and a scout on its grid, both at the scout's resolution (compare with the
    achievable); ``flatten``: the scout's z-slice profile is removed first, as the zoom's was."""
    scout = flatten_slices(scout, mask) if flatten else scout
    return masked_ncc(
        zoom_band, highpass(scout, mask, resolution.highpass_voxels), mask, resolution.judge_smoothing_voxels
    )


def candidate(source: Source, outcome: StepOutcome, frames: WorkingFrames) -> Candidate:
    """The grid a step's working map puts the zoom on (raises ``ValueError`` for a mirroring map)."""
    rotation, scale = rotation_and_scale(outcome.linear)
    centre = frames.centre_in_scout_mm(outcome.tau)
    return Candidate(source, outcome, rotation, scale, centre, grid_in_scout(frames.zoom_grid, rotation, scale, centre))


def choose(
    candidates: list[Candidate],
    zoom: np.ndarray,
    zoom_mask: np.ndarray,
    scout: np.ndarray,
    scout_mask: np.ndarray,
    frames: WorkingFrames,
    config: RegistrationConfig,
    resolution: Resolution,
    metric_prior: float,
    figures: dict,
) -> Choice:
    """The first candidate that is plausible and above the correlation floor; :class:`RegistrationError` when none
    is. ``zoom`` is the metric's zoom (slice-flattened when configured); ``scout`` the raw box, which is kept."""
    achievable = resolution.achievable_ncc
    floor = correlation_floor(config, achievable)
    zoom_band = highpass(zoom, zoom_mask, resolution.highpass_voxels)
    passed_over: list[str] = []
    for index, c in enumerate(candidates):
        stage_error = c.centre_mm - frames.prior_mm
        failures = shape_failures(config, c.rotation_deg, c.scale) + geometry_failures(
            config, frames, stage_error, metric_prior, c.outcome.metric_end
        )
        if index == 0:
            figures.update(
                metric_value=c.outcome.metric_end,
                stage_error_mm=stage_error.tolist(),
                rotation_deg=c.rotation_deg.tolist(),
                scale=c.scale.tolist(),
            )
        ncc = float("nan")
        box = None
        if not failures:
            box = resample_onto(scout, scout_mask, frames.scout_box_grid, c.grid, config.threads)
            ncc = judged_ncc(zoom_band, box[0], zoom_mask & box[1], resolution, config.flatten_slices)
            figures[f"ncc_{c.source}"] = ncc
            if ncc < floor:
                failures.append(
                    f"correlation {ncc:.3f} is below the floor {floor:.3f} ({config.min_correlation_fraction:g} of the "
                    f"achievable {achievable:.3f})"
                )
        if not failures and box is not None:
            warnings = tuple(
                f"{text}: the {NAMES[c.source]}{'-only' if c.source == 'translation' else ''} result is used"
                for text in passed_over
            )
            return Choice(candidate=c, ncc_box=ncc, box=box, warnings=warnings)
        passed_over.append(f"the {NAMES[c.source]} result was rejected (" + "; ".join(failures) + ")")
        if c.source == "affine":
            figures.update(affine_rejected_rotation_deg=c.rotation_deg.tolist(), affine_rejected_scale=c.scale.tolist())
        if not config.fallback_to_translation:
            break
    raise RegistrationError("registration failed: " + "; ".join(passed_over), figures)
