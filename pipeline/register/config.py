"""Settings of the registration stage."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RegistrationConfig(BaseModel):
    """How the scout is registered onto the zoom (FFT, then Mattes MI translation, then 9 DOF)."""

    model_config = ConfigDict(extra="forbid")

    search_radius_fraction: float = Field(0.1, gt=0, le=0.5, description="FFT search radius as a fraction of the zoom field of view")
    min_correlation: float = Field(0.5, ge=-1, le=1, description="normalised cross-correlation after registration below which the pair fails")
    refine: Literal["reconstruct", "resample"] = "reconstruct"

    # -- failure bounds -------------------------------------------------------
    max_rotation_deg: float = Field(5.0, gt=0, le=45, description="a larger rotation angle fails the pair")
    max_scale_error: float = Field(0.1, gt=0, lt=1, description="a scale factor further than this from 1 fails the pair")
    fallback_to_translation: bool = Field(
        True, description="when the 9-parameter step gives an implausible rotation or scale, use the translation-only result (with a warning) instead of failing"
    )
    bound_margin: float = Field(1.25, ge=1, description="the corrected stage error may exceed the search radius by this factor before failing")

    # -- resolution matching (a much blurrier scout) ----------------------------
    match_resolution: bool = Field(False, description="smooth the zoom to the scout's resolution when the scout is much blurrier")
    match_sigmas_voxels: tuple[float, ...] = Field((0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0), description="candidate Gaussian sigmas (zoom voxels) for the zoom")
    match_min_sigma_voxels: float = Field(4.0, ge=0, description="smooth the zoom only when the best-matching sigma is at least this")

    # -- step 1: FFT phase correlation ------------------------------------------
    fft_whitening: float = Field(0.5, ge=0, le=1, description="cross-power spectrum divided by its magnitude to this power (1: pure phase correlation, 0: plain cross-correlation)")
    fft_taper_fraction: float = Field(0.25, ge=0, le=1, description="Tukey taper along each axis so box edges do not dominate")

    # -- steps 2 and 3: Mattes MI + L-BFGS-B -------------------------------------
    histogram_bins: int = Field(32, ge=8, le=256)
    sampling: Literal["random", "regular", "none"] = "random"
    metric_samples: int = Field(50_000, ge=1000, description="voxels the metric samples at each pyramid level (all of them in smaller levels)")
    seed: int = Field(7, ge=1, description="metric sampling seed (fixed, so results are reproducible)")
    translation_shrink_factors: tuple[int, ...] = (4, 2, 1)
    translation_smoothing_voxels: tuple[float, ...] = (2.0, 1.0, 0.0)
    affine_shrink_factors: tuple[int, ...] = (2, 1)
    affine_smoothing_voxels: tuple[float, ...] = (1.0, 0.0)
    max_iterations: int = Field(200, ge=1, description="L-BFGS-B iterations per pyramid level")
    gradient_tolerance: float = Field(1e-5, gt=0)
    cost_convergence_factor: float = Field(1e9, gt=0, description="L-BFGS-B factr: stop when the relative cost reduction is below this times machine precision (1e9: 2e-7; tighter only spends line searches on the sampled metric's noise)")

    # -- quality figures ---------------------------------------------------------
    ncc_smoothing_voxels: float = Field(1.0, ge=0, description="Gaussian sigma applied to both volumes before the NCC figures (the scout is blurrier)")
    threads: int | None = Field(None, ge=1, description="SimpleITK threads; None: SimpleITK's default")

    @model_validator(mode="after")
    def _pyramids(self) -> RegistrationConfig:
        for name, shrink, sigma in (
            ("translation", self.translation_shrink_factors, self.translation_smoothing_voxels),
            ("affine", self.affine_shrink_factors, self.affine_smoothing_voxels),
        ):
            if not shrink or len(shrink) != len(sigma):
                raise ValueError(f"{name} shrink factors and smoothing sigmas need the same, non-zero length (got {shrink} and {sigma})")
            if any(f < 1 for f in shrink) or any(s < 0 for s in sigma):
                raise ValueError(f"{name} shrink factors must be >= 1 and sigmas >= 0 (got {shrink} and {sigma})")
        return self
