"""Network and training settings (a preset fills them; config overrides any key)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class NetworkConfig(BaseModel):
    """Shape of the 2.5D U-Net (``models.unet.build_unet25d``)."""

    model_config = ConfigDict(extra="forbid")

    slices: int = Field(5, ge=1, description="adjacent slices given as channels (odd)")
    depth: int = Field(4, ge=1, le=6)
    base_filters: int = Field(32, ge=4)
    head_layers: int = Field(3, ge=0)
    residual: bool = True

    @model_validator(mode="after")
    def _odd_slices(self) -> NetworkConfig:
        if self.slices % 2 != 1:
            raise ValueError(f"slices must be odd so that a centre slice exists (got {self.slices})")
        return self

    @property
    def pad_multiple_px(self) -> int:
        """Tile height and width must be multiples of this (one halving per level)."""
        return 2**self.depth


class AugmentationConfig(BaseModel):
    """Random changes applied to every training tile (input and target alike)."""

    model_config = ConfigDict(extra="forbid")

    flips: bool = True
    rotations: bool = Field(True, description="random multiples of 90 degrees in-plane")
    slice_flip: bool = Field(True, description="reverse the order of the input slices")
    intensity_scale: float = Field(0.1, ge=0, lt=1, description="gain drawn from 1 +- this")
    intensity_offset: float = Field(0.1, ge=0, description="offset drawn from +- this (normalised units)")


class TrainingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    iterations: int = Field(10_000, ge=1)
    batch_size: int = Field(4, ge=1)
    tile_px: int = Field(128, ge=16)
    learning_rate: float = Field(2e-4, gt=0)
    learning_rate_schedule: Literal["constant", "cosine"] = Field(
        "constant",
        description="constant: Adam at learning_rate throughout (the paper's); cosine: decays from learning_rate to "
        "final_learning_rate_fraction of it over the planned iterations",
    )
    final_learning_rate_fraction: float = Field(0.1, gt=0, le=1, description="cosine schedule: the last step's share")
    loss_weights: tuple[float, float] = (0.5, 1.0)
    validation_fraction: float = Field(0.15, gt=0, lt=0.5)
    validation_interval: int = Field(100, ge=1, description="iterations between validation checks")
    patience: int = Field(10, ge=1, description="validation checks without improvement before stopping")
    min_iterations: int = Field(0, ge=0, description="never stop early before this many iterations")
    min_improvement: float = Field(
        1e-3, ge=0, lt=1, description="relative drop of validation loss that counts as progress"
    )
    normalisation_percentiles: tuple[float, float] = (1.0, 99.0)
    min_mask_fraction: float = Field(0.5, ge=0, le=1, description="a training tile needs this much valid field of view")
    l1_weight: float = Field(0.0, ge=0, description="weight of a masked L1 term added to each output's masked MSE")
    gradient_weight: float = Field(
        0.0,
        ge=0,
        description="weight of a masked MSE of in-plane finite differences (edges) added to each output's loss",
    )
    edge_tile_fraction: float = Field(
        0.0,
        ge=0,
        le=1,
        description="share of training tiles picked for strong target edges (best of a few random tiles)",
    )
    mixed_precision: bool = Field(True, description="float16 compute on a GPU (never on CPU: slower there)")
    augmentation: AugmentationConfig = Field(default_factory=AugmentationConfig)
    seed: int = 0

    @model_validator(mode="after")
    def _percentiles(self) -> TrainingConfig:
        low, high = self.normalisation_percentiles
        if not 0 <= low < high <= 100:
            raise ValueError(
                f"normalisation_percentiles must satisfy 0 <= low < high <= 100 (got {self.normalisation_percentiles})"
            )
        return self


class SRCNNConfig(BaseModel):
    """3D SRCNN baseline (three conv layers, 9-1-5 kernels in the original)."""

    model_config = ConfigDict(extra="forbid")

    filters: tuple[int, int] = (32, 16)
    kernels: tuple[int, int, int] = (9, 1, 5)
    iterations: int = Field(300, ge=1)
    batch_size: int = Field(4, ge=1)
    tile_px: int = Field(24, ge=8)
    learning_rate: float = Field(1e-3, gt=0)
    seed: int = 0
