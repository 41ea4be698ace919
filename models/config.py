"""Network and training settings (a preset fills them; config overrides any key)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class NetworkConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slices: int = Field(5, ge=1, description="adjacent slices given as channels (odd)")
    depth: int = Field(4, ge=1, le=6)
    base_filters: int = Field(32, ge=4)
    head_layers: int = Field(3, ge=0)
    residual: bool = True


class TrainingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    iterations: int = Field(10_000, ge=1)
    batch_size: int = Field(4, ge=1)
    tile_px: int = Field(128, ge=16)
    learning_rate: float = Field(2e-4, gt=0)
    loss_weights: tuple[float, float] = (0.5, 1.0)
    validation_fraction: float = Field(0.15, gt=0, lt=0.5)
    seed: int = 0
