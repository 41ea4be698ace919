"""Settings of the registration stage."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RegistrationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    search_radius_fraction: float = Field(0.1, gt=0, le=0.5, description="FFT search radius as a fraction of the zoom field of view")
    min_correlation: float = Field(0.5, ge=-1, le=1, description="normalised cross-correlation after registration below which the pair fails")
    refine: Literal["reconstruct", "resample"] = "reconstruct"
