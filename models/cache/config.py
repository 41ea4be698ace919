"""Settings of the model cache: where it lives, how big it may grow, and when a
cached model may be reused (matching tolerances and validation margins).

Every knob of the reuse decision lives here, so a lab can make reuse stricter
or looser from the config file without touching code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Keys a MatchPolicy may name. Condition keys are compared per scan (scout and
# zoom); "voxel_mm" is each scan's reconstruction voxel; "ratio" is the pair's
# scout/zoom voxel ratio.
CATEGORICAL_KEYS = frozenset({"filter", "objective", "binning"})
NUMERIC_KEYS = frozenset({"voltage_kv", "current_ua", "exposure_s", "voxel_mm", "ratio"})


class MatchPolicy(BaseModel):
    """Which acquisition conditions must agree for a cached model to be a candidate.

    Categorical keys must be equal on both scans; numeric keys must agree within
    a relative tolerance (``|a - b| / max(|a|, |b|) <= tol``). A key absent from
    ``relative_tolerances`` is not compared. A value recorded on one side only
    (the other unknown) is a mismatch unless ``unknown_matches_any``.
    """

    model_config = ConfigDict(extra="forbid")

    exact_keys: list[str] = Field(default_factory=lambda: ["filter", "objective", "binning"])
    relative_tolerances: dict[str, float] = Field(
        default_factory=lambda: {"voltage_kv": 0.05, "voxel_mm": 0.05, "ratio": 0.05}
    )
    match_sample_class: bool = Field(
        True, description="when the new pair has a sample class, the model's must be the same"
    )
    unknown_matches_any: bool = Field(False, description="treat a condition recorded on one side only as matching")

    @field_validator("exact_keys")
    @classmethod
    def _known_exact(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - CATEGORICAL_KEYS)
        if unknown:
            raise ValueError(f"exact_keys must be among {sorted(CATEGORICAL_KEYS)} (got {unknown})")
        return value

    @field_validator("relative_tolerances")
    @classmethod
    def _known_numeric(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - NUMERIC_KEYS)
        if unknown:
            raise ValueError(f"relative_tolerances keys must be among {sorted(NUMERIC_KEYS)} (got {unknown})")
        bad = {k: v for k, v in value.items() if not v >= 0}
        if bad:
            raise ValueError(f"relative tolerances must be >= 0 (got {bad})")
        return value


class ValidationPolicy(BaseModel):
    """How well a candidate must do on the new pair before it is reused.

    Figures are measured inside the mask on the new pair's registered region
    and compared with the card's own held-out figures. A margin set to ``None``
    disables that check. The gain is PSNR(model) - PSNR(input), both against
    the zoom.
    """

    model_config = ConfigDict(extra="forbid")

    max_psnr_drop_db: float | None = Field(3.0, ge=0, description="PSNR may be this much below the card's")
    max_ssim_drop: float | None = Field(0.1, ge=0, description="SSIM may be this much below the card's")
    max_gain_drop_db: float | None = Field(
        1.5, ge=0, description="gain over the input may be this much below the card's"
    )
    min_gain_db: float = Field(0.0, description="the model must beat its input by at least this (dB)")
    min_gain_over_baseline_db: float | None = Field(
        0.0, description="when a baseline (e.g. cubic upsampling) is given, beat it by at least this (dB)"
    )
    max_slices: int | None = Field(
        48,
        ge=1,
        description="validate on at most this many central z-slices of the pair's region (bounds the cost); None: all",
    )


class CacheConfig(BaseModel):
    """The model cache section of ``ProcessConfig``."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    directory: Path | None = Field(
        None,
        description="default: $SCOUTZOOM_STATE_DIR/models, else $XDG_STATE_HOME/scoutzoom/models, else "
        "~/.local/state/scoutzoom/models",
    )
    max_size_gb: float = Field(20.0, gt=0, description="least-recently-used entries are evicted beyond this")
    max_candidates: int = Field(3, ge=1, description="matching models validated on a new pair, closest first")
    sample_class: str | None = Field(None, description="overrides scan.json's sample_class when matching and storing")
    on_reject: Literal["finetune", "train"] = Field(
        "finetune", description="when no candidate passes validation: fine-tune the closest one, or train afresh"
    )
    finetune_iterations: int | None = Field(None, ge=1, description="default: finetune_fraction of training.iterations")
    finetune_fraction: float = Field(0.25, gt=0, le=1)
    match: MatchPolicy = Field(default_factory=MatchPolicy)
    validation: ValidationPolicy = Field(default_factory=ValidationPolicy)

    def finetune_iterations_for(self, training_iterations: int) -> int:
        """Iterations of a fine-tune, given those of a full training run."""
        if self.finetune_iterations is not None:
            return self.finetune_iterations
        return max(1, round(training_iterations * self.finetune_fraction))
