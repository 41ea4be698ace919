"""``report.json`` and ``FAILED.json``: what happened to a pair, in a fixed, typed shape.

Other tools rely on these keys (see the end-to-end issue): ``output.shape_zyx``,
``output.voxel_mm``, ``output.origin_mm``, ``registration.zoom_centre_in_scout_mm``,
``stages.<name>.seconds``, ``model.id``, ``model.reused``, ``model.runtime``,
``trust``. ``scoutzoom schema report`` prints the JSON Schema.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

REPORT_VERSION = 1
VERSIONED_PACKAGES = ("scoutzoom", "numpy", "scipy", "SimpleITK", "itk-rtk", "tensorflow-cpu", "tensorflow", "keras", "onnxruntime", "tifffile", "scikit-image")


def software_versions() -> dict[str, str]:
    """Versions of scoutzoom and the libraries whose behaviour shapes the result."""
    versions = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class StageTiming(BaseModel):
    seconds: float
    peak_memory_mb: float | None = None


class OutputInfo(BaseModel):
    """The recovered volume's grid; origin is the centre of voxel [0,0,0], [x, y, z] mm, scout frame."""

    file: str = "recovered.ome.tif"
    shape_zyx: tuple[int, int, int]
    voxel_mm: float
    spacing_mm: tuple[float, float, float]
    origin_mm: tuple[float, float, float]
    centre_mm: tuple[float, float, float]
    direction: tuple[float, ...]
    clipped_by_budget: bool
    zoom_offset_xyz: tuple[int, int, int]


class RegistrationInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    zoom_centre_in_scout_mm: tuple[float, float, float]
    prior_centre_mm: tuple[float, float, float]


class CurvePointInfo(BaseModel):
    iteration: int
    train_loss: float
    val_loss: float | None = None


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    reused: bool
    runtime: Literal["tensorrt", "onnxruntime", "keras"]
    decision: str = ""
    training_curve: list[CurvePointInfo] = []
    parameters: int | None = None


class QualityFigures(BaseModel):
    """PSNR/SSIM on the held-out zoom slab (never trained on), against the zoom."""

    heldout_slab_z: tuple[int, int]
    psnr_recovered_db: float
    ssim_recovered: float
    psnr_cubic_db: float
    ssim_cubic: float
    psnr_scout_on_grid_db: float
    ssim_scout_on_grid: float


class ProcessReport(BaseModel):
    report_version: Literal[1] = REPORT_VERSION
    pair: str
    sample_id: str
    fingerprint: str
    created_utc: str = Field(default_factory=utc_now)
    preset: str
    software: dict[str, str] = Field(default_factory=software_versions)
    config: dict[str, Any]
    stages: dict[str, StageTiming]
    output: OutputInfo
    registration: RegistrationInfo
    model: ModelInfo
    quality: QualityFigures
    trust: dict[str, Any] = {}
    calibration: dict[str, Any] | None = Field(None, description="zoom intensity calibration against the scout (pipeline.calibrate)")
    warnings: list[str] = []
    previews: list[str] = []
    intermediates: list[str] = []


class FailureReport(BaseModel):
    """``FAILED.json``: the stage that failed, why, and the figures gathered so far."""

    pair: str
    fingerprint: str
    stage: str
    message: str
    figures: dict[str, Any] = {}
    stages: dict[str, StageTiming] = {}
    created_utc: str = Field(default_factory=utc_now)
    software: dict[str, str] = Field(default_factory=software_versions)
