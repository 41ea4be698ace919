"""Settings of the reconstruction stage."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ReconConfig(BaseModel):
    """How scans are reconstructed."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["auto", "rtk", "rtk-cuda", "tigre"] = "auto"
    truncation_correction: float = Field(1.0, ge=0.0, description="RTK ramp-filter truncation correction (fraction of detector width extrapolated) for interior scans")
    memory_budget_gb: float = Field(4.0, gt=0, description="peak memory for slab-by-slab reconstruction of large grids")
