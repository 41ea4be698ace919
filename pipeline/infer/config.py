"""Settings of tiled inference."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class InferenceConfig(BaseModel):
    """Tiles of ``tile_px`` overlapping by ``overlap_px``; of each overlap, ``margin_px`` per side is
    context that is cropped away and the rest is blended linearly (default margin: overlap / 4)."""

    model_config = ConfigDict(extra="forbid")

    runtime: Literal["auto", "tensorrt", "onnxruntime", "keras"] = "auto"
    tile_px: int = Field(576, ge=16)
    overlap_px: int = Field(32, ge=0)
    margin_px: int | None = Field(
        None, ge=0, description="context cropped from each tile side; default overlap_px // 4"
    )
    batch_size: int = Field(4, ge=1)
    memory_budget_gb: float = Field(4.0, gt=0)
    slab_z: int | None = Field(
        None, ge=1, description="output slices per streamed slab; default from the memory budget"
    )
    threads: int | None = Field(None, ge=1, description="CPU threads of the runtime; default: all cores")

    @property
    def margin(self) -> int:
        return self.overlap_px // 4 if self.margin_px is None else self.margin_px

    @model_validator(mode="after")
    def _geometry(self) -> InferenceConfig:
        if 2 * self.margin > self.overlap_px:
            raise ValueError(
                f"2 * margin_px must not exceed overlap_px (got margin {self.margin}, overlap {self.overlap_px})"
            )
        if 2 * self.overlap_px >= self.tile_px:
            raise ValueError(
                f"overlap_px must be under half of tile_px (got overlap {self.overlap_px}, tile {self.tile_px})"
            )
        return self
