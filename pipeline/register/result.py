"""What registration hands to the next stages and to report.json."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from pipeline.grid import VolumeGrid

Vec3 = tuple[float, float, float]


class StepSeconds(BaseModel):
    model_config = ConfigDict(frozen=True)

    fft: float = 0.0
    match: float = 0.0
    translation: float = 0.0
    affine: float = 0.0
    resample: float = 0.0

    @property
    def total(self) -> float:
        return self.fft + self.match + self.translation + self.affine + self.resample


class Confidence(BaseModel):
    """Figures that say how far to trust the transform (distances in zoom voxels)."""

    model_config = ConfigDict(frozen=True)

    fft_peak_to_noise: float = Field(
        description="phase-correlation peak height over the correlation's spread in the search region"
    )
    fft_vs_translation_voxels: float = Field(
        description="distance between the FFT estimate and the MI translation (step 1 vs 2)"
    )
    translation_vs_affine_rms_voxels: float = Field(
        description="RMS displacement over the zoom field of view between step 2 and step 3"
    )
    model_residual_voxels: float = Field(
        description="largest displacement between ITK's ScaleVersor3D map and the rotation x scale grid reported"
    )
    metric_prior: float = Field(description="Mattes MI at the stage prior (lower is better)")
    metric_translation: float = Field(description="Mattes MI after step 2")
    scout_blur_sigma_voxels: float = Field(
        0.0, description="Gaussian sigma (zoom voxels) that best turns the zoom into the scout"
    )
    structure_ncc: float = Field(
        1.0,
        description="NCC of the zoom with itself blurred by that sigma, unsmoothed: how much of the zoom survives at "
        "the scout's resolution",
    )
    achievable_ncc: float = Field(
        1.0, description="the same at judge_smoothing_voxels: what judged_ncc reaches for a perfect scout"
    )
    judge_smoothing_voxels: float = Field(
        1.0,
        description="Gaussian sigma both volumes are smoothed by for the achievable and judged NCC (the scout's blur, "
        "at least ncc_smoothing_voxels)",
    )
    judged_ncc: float = Field(1.0, description="NCC of zoom and registered scout at that smoothing")
    correlation_floor: float = Field(0.0, description="judged_ncc had to reach this (a fraction of the achievable)")
    metric_zoom_smoothing_voxels: float = Field(
        0.0, description="Gaussian sigma the zoom was smoothed by for the metric (resolution matching)"
    )
    metric_highpass_voxels: float = Field(
        0.0, description="sigma of the low frequencies removed from both volumes for the metric"
    )


class RegistrationResult(BaseModel):
    """The zoom->scout map ``p_scout = A @ p_zoom + t`` with ``A = R @ diag(scale) @ D_zoom.T``.

    ``R`` is given as a rotation vector (axis times angle, degrees, [x, y, z]);
    ``D_zoom`` is the zoom grid's direction (identity for native zoom grids).
    ``zoom_grid_in_scout`` is the zoom grid as seen from the scout frame:
    voxel ``(i, j, k)`` of the zoom sits at its ``index_to_physical((i, j, k))``.
    """

    model_config = ConfigDict(frozen=True)

    zoom_grid_in_scout: VolumeGrid
    zoom_to_scout_matrix: tuple[tuple[float, float, float, float], ...] = Field(description="rows of [A | t], 3 x 4")
    translation_mm: Vec3 = Field(description="t of p_scout = A @ p_zoom + t")
    rotation_deg: Vec3 = Field(description="rotation vector of R (axis * angle, degrees)")
    scale: Vec3 = Field(description="scale factors along the zoom's x, y, z index axes")
    zoom_centre_in_scout_mm: Vec3
    prior_centre_mm: Vec3 = Field(description="zoom centre in the scout frame from the stage positions")
    stage_error_mm: Vec3 = Field(description="zoom_centre_in_scout - prior_centre: what the stages got wrong")
    fft_shift_mm: Vec3 = Field(description="step 1's correction to the prior")
    metric_value: float = Field(description="final Mattes MI (lower is better)")
    ncc_before: float = Field(description="normalised cross-correlation in both masks at the stage prior")
    ncc_after: float = Field(description="normalised cross-correlation in both masks after registration")
    confidence: Confidence
    seconds: StepSeconds
    refined_by: Literal["reconstruct", "resample"]
    transform_from: Literal["affine", "translation", "fft"] = Field(
        "affine", description="the step whose result was used (later ones failed or were implausible)"
    )
    iterations: dict[str, int] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)

    @property
    def matrix(self) -> np.ndarray:
        """``zoom_to_scout_matrix`` as a [3, 4] array (compare with the simulator's truth.json)."""
        return np.asarray(self.zoom_to_scout_matrix, dtype=float)


@dataclass(frozen=True)
class Registered:
    """The result plus the registered scout and its mask on the zoom grid (same shape as the zoom)."""

    result: RegistrationResult
    scout: np.ndarray
    mask: np.ndarray
