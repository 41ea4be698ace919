"""Thresholds of the trust report and settings of the pore analysis."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PoreConfig(BaseModel):
    """How pores are segmented and matched to a truth list."""

    model_config = ConfigDict(extra="forbid")

    max_hole_voxels: int = Field(
        8, ge=0, description="bright specks up to this size inside a pore are filled (small-hole closing)"
    )
    min_pore_voxels: int = Field(8, ge=1, description="dark specks smaller than this are noise, not pores")
    split_h_px: float = Field(
        0.7,
        ge=0.0,
        description="h-maxima depth (voxels) of the distance transform: seeds of the watershed that separates touching "
        "pores",
    )
    distance_smoothing_px: float = Field(
        0.7,
        ge=0.0,
        description="Gaussian sigma (voxels) applied to the distance map so noisy outlines do not split a pore",
    )
    min_radius_px: float = Field(
        1.5, gt=0.0, description="truth pores smaller than this (zoom voxels) are below detection and not counted"
    )
    size_factor: float = Field(
        1.5, gt=1.0, description="a match needs found/true equivalent diameter within this factor"
    )


class TrustConfig(BaseModel):
    """When a recovered volume is flagged as untrustworthy (figures on held-out zoom data)."""

    model_config = ConfigDict(extra="forbid")

    min_psnr_gain_db: float = Field(
        0.0, description="flag when recovered PSNR minus cubic PSNR on held-out zoom data is below this"
    )
    min_ssim_gain: float = Field(
        0.0, description="flag when recovered SSIM minus cubic SSIM on held-out zoom data is below this"
    )
    min_ms_ssim: float = Field(
        0.5, ge=0.0, le=1.0, description="flag when the mean 3D MS-SSIM of recovered vs zoom (held out) is below this"
    )
    max_resolution_ratio: float = Field(
        1.0,
        gt=0.0,
        description="flag when effective resolution after / before is above this (the output is not sharper than "
        "cubic)",
    )
    max_consistency_ratio: float = Field(
        1.5,
        gt=0.0,
        description="flag when the scout-consistency residual outside the zoom is this many times the residual inside "
        "it",
    )
    ms_ssim_scales: int = Field(
        3, ge=1, le=5, description="scales of the 3D MS-SSIM map (fewer are used on small volumes)"
    )
    max_resolution_sigma_px: float = Field(
        8.0, gt=0.0, description="largest Gaussian sigma (voxels) searched by the effective-resolution fit"
    )
    min_resolution_fit_r2: float = Field(
        0.1,
        ge=0.0,
        lt=1.0,
        description="an effective resolution is reported only where the blurred zoom explains at least this share "
        "of the image's variance (R^2); below it the image shows too little of the zoom's structure to measure one "
        "(a 9:1 scout: the best fit is then no blur at all, which would read as perfect resolution)",
    )
    test_fraction: float = Field(
        0.15,
        gt=0.0,
        lt=0.5,
        description="share of the zoom's valid z-range kept as the test slab (top): never trained on, never used to "
        "choose the model; every trust figure comes from it",
    )
    features: bool = Field(
        True,
        description="segment pores on the test slab (zoom, recovered, baselines) and judge feature recall and false "
        "features",
    )
    min_feature_recall_gain: float = Field(
        0.0,
        description="flag when the recovered volume's pore recall minus a baseline's (cubic, scout FDK on the zoom "
        "grid) is below this",
    )
    min_features: int = Field(
        10,
        ge=1,
        description="feature flags need at least this many zoom pores on the test slab (fewer: figures reported, no "
        "verdict)",
    )
    max_false_feature_fraction: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="flag when more than this share of the recovered volume's pores lie in no zoom pore",
    )
    pores: PoreConfig = Field(default_factory=PoreConfig, description="pore segmentation used by the feature check")
