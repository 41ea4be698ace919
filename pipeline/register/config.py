"""Settings of the registration stage."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RegistrationConfig(BaseModel):
    """How the scout is registered onto the zoom (FFT, then Mattes MI translation, then rotation and scale)."""

    model_config = ConfigDict(extra="forbid")

    search_radius_fraction: float = Field(
        0.1, gt=0, le=0.5, description="FFT search radius as a fraction of the zoom field of view"
    )
    # measured: registered pairs reach 0.65-0.98 of the achievable figure (3:1 to 7:1, simulated through FDK),
    # a zoom from another sample 0.25 of it; with the slice profiles flattened (issue 14): 0.96-0.97 at 3:1,
    # 0.83-0.90 at 5:1, 0.51-0.78 at 7:1 (64-voxel zoom) and 0.65-0.87 at 7:1 and 9:1 (foam-study size)
    min_correlation_fraction: float = Field(
        0.5,
        ge=0,
        le=1,
        description="the pair fails when its correlation after registration is below this fraction of the achievable "
        "one "
        "(the zoom's correlation with itself blurred to the scout's resolution; both figures band-passed to the "
        "scout's resolution)",
    )
    min_achievable_correlation: float = Field(
        0.15,
        ge=0,
        le=1,
        description="below this correlation of the zoom with itself blurred to the scout's resolution the zoom has "
        "no structure at that resolution: the pair fails",
    )
    min_correlation: float = Field(
        0.0,
        ge=-1,
        le=1,
        description="absolute floor on the correlation after registration (0: only the relative floor)",
    )
    refine: Literal["reconstruct", "resample"] = "reconstruct"

    # -- failure bounds -------------------------------------------------------
    max_rotation_deg: float = Field(5.0, gt=0, le=45, description="a larger rotation angle fails the pair")
    max_scale_error: float = Field(
        0.1, gt=0, lt=1, description="a scale factor further than this from 1 fails the pair"
    )
    fallback_to_translation: bool = Field(
        True,
        description="when a step fails, diverges or gives an implausible or below-floor result, use the earlier step's "
        "result (with a warning) instead of failing",
    )
    divergence_factor: float = Field(
        2.0,
        gt=1,
        description="an optimiser whose rotation or scale error passes this multiple of the bounds above is stopped as "
        "diverged",
    )
    bound_margin: float = Field(
        1.25, ge=1, description="the corrected stage error may exceed the search radius by this factor before failing"
    )

    # -- resolution matching (the scout is blurrier) -----------------------------
    match_resolution: bool = Field(
        True, description="smooth the zoom to the scout's resolution for the metric when the scout is much blurrier"
    )
    match_sigmas_voxels: tuple[float, ...] = Field(
        (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0),
        description="candidate Gaussian sigmas (zoom voxels) of the scout's blur",
    )
    match_min_sigma_voxels: float = Field(
        0.0, ge=0, description="smooth the zoom for the metric only when the scout's blur sigma is at least this"
    )
    match_fraction: float = Field(
        1.0, ge=0, le=1, description="the zoom is smoothed by this fraction of the scout's blur sigma"
    )
    flatten_slices: bool = Field(
        True,
        description="remove each volume's z-slice mean profile before the metric and the correlation figures: where "
        "the sample ends just beyond the zoom box, the scout dims towards its end faces and the interior zoom "
        "brightens, and these profiles steered the z scale by 2-4 % at 5:1. Median residual without / with it "
        "(zoom voxels; simulated FDK pairs, tune seeds, other defaults as they are): 3:1 0.128 / 0.125, 5:1 0.73 / "
        "0.44; 7:1 refused / 1.3; foam-study size 7:1 1.28 / 0.56, 9:1 refused / 0.71",
    )
    highpass_factor: float = Field(
        3.0,
        ge=0,
        description="low frequencies coarser than this many scout blur sigmas are removed from both volumes for the "
        "metric and "
        "the correlation figures (an interior zoom FDK keeps a smooth bias that steers the scale); 0: off",
    )
    metric_highpass_factor: float = Field(
        2.0,
        ge=0,
        description="highpass_factor of the metric data for a scout that is not coarse (coarse ones: "
        "coarse_metric_highpass_factor). The interior zoom FDK's smooth in-plane bias pulled the x/y scale 0.3-0.9 % "
        "low at 3:1; 2.0 removes it (simulated FDK pairs, tune seeds)",
    )
    coarse_metric_highpass_factor: float = Field(
        1.5,
        ge=0,
        description="highpass_factor of the metric data for a coarse scout (see coarse_min_sigma_voxels): less low "
        "frequency, less scale bias (at 5:1 the fitted scale ran 0.5-2.1 % low at 3.0, the earlier value). Median "
        "residual in zoom voxels at 3.0 / 2.0 / 1.5 / 1.25 / 1.0 (simulated FDK pairs, tune seeds): 5:1 0.69 / 0.56 "
        "/ 0.44 / 0.45 / 0.43; foam-study size 7:1 - / 0.50 / 0.56 / 0.62 / 0.73, 9:1 - / 0.75 / 0.71 / 0.71 / 0.76",
    )
    coarse_min_sigma_voxels: float = Field(
        4.5,
        ge=0,
        description="a scout whose blur sigma (zoom voxels) is at least this is coarse: its metric data keep less low "
        "frequency (coarse_metric_highpass_factor) and step 3 fits coarse_model",
    )
    affine_model: Literal["scale_versor", "similarity", "rigid"] = Field(
        "similarity",
        description="step 3's transform for a scout that is not coarse (scale_versor: rotation, translation and a "
        "scale per axis, 9 parameters; similarity: one isotropic scale, 7; rigid: none, 6). A calibration error of "
        "the zoom scales it isotropically; at 3:1 similarity gave 0.125 zoom voxels median residual, scale_versor "
        "0.149 (simulated FDK pairs, tune seeds)",
    )
    coarse_model: Literal["scale_versor", "similarity", "rigid"] = Field(
        "similarity",
        description="step 3's transform for a coarse scout. Median residual similarity / rigid (zoom voxels; "
        "simulated FDK pairs, tune seeds): 5:1 0.44 / 0.60, foam-study size 7:1 0.56 / 0.56, 9:1 0.71 / 0.84 (rigid "
        "keeps the scale at 1 while the zoom's is up to 2 % off)",
    )
    affine_metric: Literal["mattes", "correlation"] = Field(
        "correlation",
        description="metric of the rotation-and-scale step (on resolution-matched, band-passed data the two "
        "modalities agree; MI biased the scale)",
    )

    # -- step 1: FFT phase correlation ------------------------------------------
    fft_whitening: float = Field(
        0.5,
        ge=0,
        le=1,
        description="cross-power spectrum divided by its magnitude to this power (1: pure phase correlation, 0: plain "
        "cross-correlation)",
    )
    fft_taper_fraction: float = Field(
        0.25, ge=0, le=1, description="Tukey taper along each axis so box edges do not dominate"
    )

    # -- steps 2 and 3: Mattes MI + L-BFGS-B -------------------------------------
    histogram_bins: int = Field(32, ge=8, le=256)
    sampling: Literal["random", "regular", "none"] = "random"
    metric_samples: int = Field(
        50_000, ge=1000, description="voxels the metric samples at each pyramid level (all of them in smaller levels)"
    )
    seed: int = Field(7, ge=1, description="metric sampling seed (fixed, so results are reproducible)")
    translation_shrink_factors: tuple[int, ...] = (4, 2, 1)
    translation_smoothing_voxels: tuple[float, ...] = (2.0, 1.0, 0.0)
    affine_shrink_factors: tuple[int, ...] = (2, 1)
    affine_smoothing_voxels: tuple[float, ...] = (1.0, 0.0)
    max_iterations: int = Field(200, ge=1, description="L-BFGS-B iterations per pyramid level")
    gradient_tolerance: float = Field(1e-5, gt=0)
    cost_convergence_factor: float = Field(
        1e9,
        gt=0,
        description="L-BFGS-B factr: stop when the relative cost reduction is below this times machine precision (1e9: "
        "2e-7; tighter only spends line searches on the sampled metric's noise)",
    )

    # -- quality figures ---------------------------------------------------------
    ncc_smoothing_voxels: float = Field(
        1.0, ge=0, description="Gaussian sigma applied to both volumes before the NCC figures (the scout is blurrier)"
    )
    threads: int | None = Field(None, ge=1, description="SimpleITK threads; None: SimpleITK's default")

    @model_validator(mode="after")
    def _pyramids(self) -> RegistrationConfig:
        for name, shrink, sigma in (
            ("translation", self.translation_shrink_factors, self.translation_smoothing_voxels),
            ("affine", self.affine_shrink_factors, self.affine_smoothing_voxels),
        ):
            if not shrink or len(shrink) != len(sigma):
                raise ValueError(
                    f"{name} shrink factors and smoothing sigmas need the same, non-zero length (got {shrink} and "
                    f"{sigma})"
                )
            if any(f < 1 for f in shrink) or any(s < 0 for s in sigma):
                raise ValueError(f"{name} shrink factors must be >= 1 and sigmas >= 0 (got {shrink} and {sigma})")
        return self
