"""Settings of tiled inference."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class InferenceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    runtime: Literal["auto", "tensorrt", "onnxruntime", "keras"] = "auto"
    tile_px: int = Field(576, ge=16)
    overlap_px: int = Field(32, ge=0)
    batch_size: int = Field(4, ge=1)
    memory_budget_gb: float = Field(4.0, gt=0)
