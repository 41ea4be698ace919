"""Settings of the model cache and its matching policy."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class CacheConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    directory: Path | None = Field(None, description="default: <state dir>/models")
    max_size_gb: float = Field(20.0, gt=0)
