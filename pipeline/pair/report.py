"""``report.json`` and ``FAILED.json``: what happened to a pair, in a fixed, typed shape.

Other tools rely on these keys (see the end-to-end issue): ``output.shape_zyx``,
``output.voxel_mm``, ``output.origin_mm``, ``registration.zoom_centre_in_scout_mm``,
``stages.<name>.seconds``, ``model.id``, ``model.reused``, ``model.runtime``,
``trust``. ``scoutzoom schema report`` prints the JSON Schema.
"""

from __future__ import annotations

import importlib.metadata
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.atomic import write_text_atomic
from models.cache.select import CacheDecision
from models.clock import utc_now
from models.trained import CurvePoint, ValidationFigures
from pipeline.evaluate.trust import TrustReport
from pipeline.infer.stream import InferenceStats

REPORT_VERSION = 1
FAILED_FILE = "FAILED.json"
VERSIONED_PACKAGES = (
    "scoutzoom",
    "numpy",
    "scipy",
    "SimpleITK",
    "itk-rtk",
    "tensorflow-cpu",
    "tensorflow",
    "keras",
    "onnxruntime",
    "tifffile",
    "scikit-image",
)


def software_versions() -> dict[str, str]:
    """Versions of scoutzoom and the libraries whose behaviour shapes the result."""
    versions = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


class StageTiming(BaseModel):
    seconds: float
    peak_memory_mb: float | None = None


class OutputInfo(BaseModel):
    """The recovered volume's files and grid; origin is the centre of voxel [0,0,0], [x, y, z] mm, scout frame.

    ``file`` is the first of ``files`` (``recovered.ome.tif`` and/or ``recovered.ome.zarr``, by
    ``pipeline.output.format``).
    """

    file: str = "recovered.ome.tif"
    files: list[str] = ["recovered.ome.tif"]
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


class ModelInfo(BaseModel):
    """The model used: ``validation`` are a trained model's figures on the validation slab that chose it
    (a reused model's: its card's, from its own pair's test slab)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    reused: bool
    runtime: Literal["tensorrt", "onnxruntime", "keras"]
    runtime_detail: str = ""
    decision: str = ""
    training_curve: list[CurvePoint] = []
    validation: ValidationFigures | None = None
    parameters: int | None = None
    cache: CacheDecision | None = None


class ReconstructionInfo(BaseModel):
    """One reconstruction of the pair: backend, grid size, slabs and throughput (voxel-updates per second)."""

    model_config = ConfigDict(extra="forbid")

    backend: str
    shape_zyx: tuple[int, int, int]
    projections: int
    seconds: float
    slabs: int
    voxel_updates_per_s: float
    interior: bool
    truncation_correction: float
    short_scan: bool


class QualityFigures(BaseModel):
    """PSNR/SSIM on the zoom's test slab (never trained on, never used to choose the model), against the zoom.

    ``validation_slab_z`` is the slab that chose the model (early stopping); no figure here comes from it.
    """

    test_slab_z: tuple[int, int]
    validation_slab_z: tuple[int, int]
    psnr_recovered_db: float
    ssim_recovered: float
    psnr_cubic_db: float
    ssim_cubic: float
    psnr_scout_on_grid_db: float
    ssim_scout_on_grid: float


class ReportSummary(BaseModel):
    """``report.json``'s ``summary``: what a person reads first, all from the zoom's test slab."""

    verdict: Literal["trusted", "flagged"] = Field(description="flagged when any trust figure passes its threshold")
    reasons: list[str] = Field(description="why it is flagged, one sentence each (empty when trusted)")
    psnr_gain_db: float = Field(description="PSNR of the recovered volume minus that of cubic upsampling (dB)")
    psnr_recovered_db: float = Field(description="PSNR of the recovered volume against the zoom (dB)")
    psnr_cubic_db: float = Field(description="PSNR of cubic upsampling of the scout against the zoom (dB)")
    resolution_before_um: float = Field(
        description="effective resolution of cubic upsampling: FWHM of the extra blur "
        "relative to the zoom (µm; lower is sharper)"
    )
    resolution_after_um: float = Field(description="the same for the recovered volume (µm)")
    feature_recall: float | None = Field(None, description="share of the zoom's pores found in the recovered volume")
    feature_recall_cubic: float | None = Field(None, description="the same for cubic upsampling")
    model_id: str
    model_reused: bool = Field(description="a cached model was reused (else one was trained)")
    warnings: int = Field(description="number of entries in warnings")
    total_seconds: float = Field(description="wall time of all stages (s)")


def summarize(report: ProcessReport) -> ReportSummary:
    """The summary of a full report (its trust, quality, model, warnings and stage times)."""
    trust = report.trust
    features = trust.features
    cubic = features.baselines.get("cubic") if features is not None else None
    return ReportSummary(
        verdict="flagged" if trust.flagged else "trusted",
        reasons=list(trust.reasons),
        psnr_gain_db=trust.psnr_gain_db,
        psnr_recovered_db=trust.heldout_psnr_db,
        psnr_cubic_db=trust.heldout_psnr_cubic_db,
        resolution_before_um=1000.0 * trust.effective_resolution_mm.before,
        resolution_after_um=1000.0 * trust.effective_resolution_mm.after,
        feature_recall=features.recovered.recall if features is not None else None,
        feature_recall_cubic=cubic.recall if cubic is not None else None,
        model_id=report.model.id,
        model_reused=report.model.reused,
        warnings=len(report.warnings),
        total_seconds=sum(timing.seconds for timing in report.stages.values()),
    )


class ProcessReport(BaseModel):
    report_version: Literal[1] = REPORT_VERSION
    summary: ReportSummary | None = Field(None, description="verdict and headline figures; filled from the rest")
    pair: str
    sample_id: str
    fingerprint: str
    created_utc: datetime = Field(default_factory=utc_now)
    preset: str
    software: dict[str, str] = Field(default_factory=software_versions)
    config: dict[str, Any]
    stages: dict[str, StageTiming]
    output: OutputInfo
    registration: RegistrationInfo
    model: ModelInfo
    quality: QualityFigures
    trust: TrustReport
    reconstruction: dict[str, ReconstructionInfo] = Field(
        default_factory=dict, description="each reconstruction, by what it produced"
    )
    inference: InferenceStats | None = None
    calibration: dict[str, Any] | None = Field(
        None, description="zoom intensity calibration against the scout (pipeline.calibrate)"
    )
    warnings: list[str] = []
    previews: list[str] = []
    intermediates: list[str] = []

    @model_validator(mode="after")
    def _fill_summary(self) -> ProcessReport:
        if self.summary is None:
            self.summary = summarize(self)
        return self


class FailureReport(BaseModel):
    """``FAILED.json``: the stage that failed, why (``problems``: each reason), and the figures gathered so far.

    Written by the pipeline for a failed pair and by the daemon for a pair that failed before it ran
    (incomplete after the settle time, interrupted too often): one schema, one writer.
    """

    pair: str
    fingerprint: str = ""
    stage: str
    message: str
    problems: list[str] = []
    figures: dict[str, Any] = {}
    stages: dict[str, StageTiming] = {}
    created_utc: datetime = Field(default_factory=utc_now)
    software: dict[str, str] = Field(default_factory=software_versions)


def write_failure(out_dir: Path, report: FailureReport) -> Path:
    """``FAILED.json`` in ``out_dir``, atomically (raises ``OSError`` if it cannot be written)."""
    path = Path(out_dir) / FAILED_FILE
    write_text_atomic(path, report.model_dump_json(indent=2) + "\n")
    return path
