"""Thresholds of the trust report."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TrustConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_psnr_gain_db: float = Field(0.0, description="flag when recovered PSNR minus cubic PSNR on held-out zoom data is below this")
