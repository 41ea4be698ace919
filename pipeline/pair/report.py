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
REPORT_SCHEMA_ID = f"urn:scoutzoom:schema:report:{REPORT_VERSION}"  # report.json's JSON Schema $id
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
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
    """One stage's wall time and peak memory."""

    seconds: float = Field(description="wall time of the stage (s)")
    peak_memory_mb: float | None = Field(None, description="peak resident memory during the stage (MiB)")


class OutputInfo(BaseModel):
    """The recovered volume's files and grid; origin is the centre of voxel [0,0,0], [x, y, z] mm, scout frame.

    ``file`` is the first of ``files`` (``recovered.ome.tif`` and/or ``recovered.ome.zarr``, by
    ``pipeline.output.format``).
    """

    file: str = Field("recovered.ome.tif", description="the first of files (path relative to the output folder)")
    files: list[str] = Field(["recovered.ome.tif"], description="recovered volume files (relative paths)")
    shape_zyx: tuple[int, int, int] = Field(description="recovered volume shape, z, y, x (voxels)")
    voxel_mm: float = Field(description="voxel size (mm; mean spacing if not isotropic)")
    spacing_mm: tuple[float, float, float] = Field(description="voxel spacing, x, y, z (mm)")
    origin_mm: tuple[float, float, float] = Field(
        description="centre of voxel [0,0,0], x, y, z, in the scout's frame (mm)"
    )
    centre_mm: tuple[float, float, float] = Field(description="centre of the volume, x, y, z, scout frame (mm)")
    direction: tuple[float, ...] = Field(description="direction cosines, row-major 3x3 (columns: x, y, z axes)")
    clipped_by_budget: bool = Field(description="the output region was cut to fit the voxel budget")
    zoom_offset_xyz: tuple[int, int, int] = Field(description="index of the zoom grid's first voxel, x, y, z (voxels)")


class RegistrationInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    zoom_centre_in_scout_mm: tuple[float, float, float] = Field(
        description="registered centre of the zoom volume, x, y, z, in the scout's frame (mm)"
    )
    prior_centre_mm: tuple[float, float, float] = Field(
        description="the zoom's centre from the scan geometry, before registration, x, y, z (mm)"
    )


class ModelInfo(BaseModel):
    """The model used: ``validation`` are a trained model's figures on the validation slab that chose it
    (a reused model's: its card's, from its own pair's test slab)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="model id in the model cache")
    reused: bool = Field(description="a cached model was reused (else one was trained for this pair)")
    runtime: Literal["tensorrt", "onnxruntime", "keras"] = Field(description="inference runtime family")
    runtime_detail: str = Field("", description="runtime and device, e.g. onnxruntime-cpu")
    decision: str = Field("", description="why this model: trained, reused, fine-tuned, in words")
    training_curve: list[CurvePoint] = Field([], description="training and validation loss by iteration")
    validation: ValidationFigures | None = Field(None, description="figures on the slab that chose the model")
    parameters: int | None = Field(None, description="number of trainable weights")
    cache: CacheDecision | None = Field(None, description="the model cache's look-up: result and reason")


class ReconstructionInfo(BaseModel):
    """One reconstruction of the pair: backend, grid size, slabs and throughput (voxel-updates per second)."""

    model_config = ConfigDict(extra="forbid")

    backend: str = Field(description="FDK backend (numba, rtk, tigre, ...)")
    shape_zyx: tuple[int, int, int] = Field(description="reconstructed grid, z, y, x (voxels)")
    projections: int = Field(description="projections back-projected")
    seconds: float = Field(description="wall time (s)")
    slabs: int = Field(description="z slabs the grid was reconstructed in")
    voxel_updates_per_s: float = Field(description="voxels x projections per second (1/s)")
    interior: bool = Field(description="interior (region-of-interest) scan: the object is wider than the field")
    truncation_correction: float = Field(description="RTK ramp-filter truncation correction used (0 unless interior)")
    short_scan: bool = Field(description="less than a full turn (Parker weights)")


class QualityFigures(BaseModel):
    """PSNR/SSIM on the zoom's test slab (never trained on, never used to choose the model), against the zoom.

    ``validation_slab_z`` is the slab that chose the model (early stopping); no figure here comes from it.
    """

    test_slab_z: tuple[int, int] = Field(
        description="test slab: z start and stop (exclusive) on the zoom grid (voxels)"
    )
    validation_slab_z: tuple[int, int] = Field(description="validation slab: z start and stop (exclusive) (voxels)")
    psnr_recovered_db: float = Field(description="PSNR of the recovered volume against the zoom (dB)")
    ssim_recovered: float = Field(description="SSIM of the recovered volume against the zoom (0-1)")
    psnr_cubic_db: float = Field(description="PSNR of cubic upsampling of the scout (dB)")
    ssim_cubic: float = Field(description="SSIM of cubic upsampling of the scout (0-1)")
    psnr_scout_on_grid_db: float = Field(description="PSNR of the registered scout on the zoom grid (dB)")
    ssim_scout_on_grid: float = Field(description="SSIM of the registered scout on the zoom grid (0-1)")


class ReportSummary(BaseModel):
    """``report.json``'s ``summary``: what a person reads first, all from the zoom's test slab."""

    verdict: Literal["trusted", "flagged"] = Field(description="flagged when any trust figure passes its threshold")
    reasons: list[str] = Field(description="why it is flagged, one sentence each (empty when trusted)")
    psnr_gain_db: float = Field(description="PSNR of the recovered volume minus that of cubic upsampling (dB)")
    psnr_recovered_db: float = Field(description="PSNR of the recovered volume against the zoom (dB)")
    psnr_cubic_db: float = Field(description="PSNR of cubic upsampling of the scout against the zoom (dB)")
    resolution_before_um: float | None = Field(
        description="effective resolution of cubic upsampling: FWHM of the extra blur "
        "relative to the zoom (µm; lower is sharper); null when not measurable (the image shows too little of the "
        "zoom's structure)"
    )
    resolution_after_um: float | None = Field(description="the same for the recovered volume (µm)")
    feature_recall: float | None = Field(None, description="share of the zoom's pores found in the recovered volume")
    feature_recall_cubic: float | None = Field(None, description="the same for cubic upsampling")
    model_id: str = Field(description="model id in the model cache")
    model_reused: bool = Field(description="a cached model was reused (else one was trained)")
    warnings: int = Field(description="number of entries in warnings")
    total_seconds: float = Field(description="wall time of all stages (s)")


def _um(mm: float | None) -> float | None:
    return None if mm is None else 1000.0 * mm


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
        resolution_before_um=_um(trust.effective_resolution_mm.before),
        resolution_after_um=_um(trust.effective_resolution_mm.after),
        feature_recall=features.recovered.recall if features is not None else None,
        feature_recall_cubic=cubic.recall if cubic is not None else None,
        model_id=report.model.id,
        model_reused=report.model.reused,
        warnings=len(report.warnings),
        total_seconds=sum(timing.seconds for timing in report.stages.values()),
    )


class ProcessReport(BaseModel):
    """``report.json``: what happened to one pair (``scoutzoom schema report`` prints this as a JSON Schema)."""

    report_version: Literal[1] = Field(REPORT_VERSION, description="version of this layout")
    summary: ReportSummary | None = Field(None, description="verdict and headline figures; filled from the rest")
    pair: str = Field(description="the pair folder (or the zoom scan of a loose pair)")
    sample_id: str = Field(description="sample id from the scans' metadata")
    fingerprint: str = Field(description="content fingerprint of the pair's input files")
    created_utc: datetime = Field(default_factory=utc_now, description="when the report was written (UTC)")
    preset: str = Field(description="processing preset (small, medium, ...)")
    software: dict[str, str] = Field(
        default_factory=software_versions, description="versions of scoutzoom and the libraries that shape the result"
    )
    config: dict[str, Any] = Field(description="the full processing config used")
    stages: dict[str, StageTiming] = Field(description="wall time (s) and peak memory (MiB) of each stage, by name")
    output: OutputInfo = Field(description="the recovered volume: files, shape (voxels), grid (mm, scout frame)")
    registration: RegistrationInfo = Field(description="where the zoom lies in the scout (mm) and how well it fits")
    model: ModelInfo = Field(description="the network used: trained or reused, runtime, loss curve")
    quality: QualityFigures = Field(description="PSNR (dB) and SSIM on the zoom's test slab, recovered and baselines")
    trust: TrustReport = Field(
        description="trust figures on held-out zoom data (dB, mm) and the verdict: flagged and why"
    )
    reconstruction: dict[str, ReconstructionInfo] = Field(
        default_factory=dict, description="each reconstruction, by what it produced"
    )
    inference: InferenceStats | None = Field(
        None, description="inference run: runtime, voxels, wall time (s), slabs and tiles"
    )
    calibration: dict[str, Any] | None = Field(
        None, description="zoom intensity calibration against the scout (pipeline.calibrate)"
    )
    warnings: list[str] = Field([], description="problems that did not stop the pair, one sentence each")
    previews: list[str] = Field([], description="preview PNGs (paths relative to the output folder)")
    intermediates: list[str] = Field([], description="intermediate volumes kept (relative paths)")

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


def report_json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of ``report.json`` (``scoutzoom schema report``)."""
    schema = ProcessReport.model_json_schema()
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": REPORT_SCHEMA_ID,
        "title": f"scoutzoom report.json (version {REPORT_VERSION})",
        **{key: value for key, value in schema.items() if key != "title"},
    }


def write_failure(out_dir: Path, report: FailureReport) -> Path:
    """``FAILED.json`` in ``out_dir``, atomically (raises ``OSError`` if it cannot be written)."""
    path = Path(out_dir) / FAILED_FILE
    write_text_atomic(path, report.model_dump_json(indent=2) + "\n")
    return path
