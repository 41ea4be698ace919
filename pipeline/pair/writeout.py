"""Write a processed pair's products: recovered volume, intermediates, previews, report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.atomic import write_text_atomic
from pipeline.calibrate import CalibrationFigures
from pipeline.config import ProcessConfig
from pipeline.infer.stream import InferenceStats
from pipeline.output import previews
from pipeline.output.panels import AFTER, BEFORE, TRIO_LABELS, grey_window
from pipeline.output.plan import OutputPlan
from pipeline.output.quantise import LinearScale, OutputDtype, choose_scale
from pipeline.output.volumes import VALUE_UNIT, write_ome_tiff
from pipeline.output.zarr_volume import OmeZarrVolume
from pipeline.pair.assess import Assessment
from pipeline.pair.model_step import ModelChoice
from pipeline.pair.report import (
    ModelInfo,
    OutputInfo,
    ProcessReport,
    ReconstructionInfo,
    RegistrationInfo,
    software_versions,
)
from pipeline.pair.stages import StageRunner
from pipeline.pair.steps import PairScans, VolumeWithMask
from pipeline.region import OutputPlacement
from pipeline.register.result import Registered

RECOVERED = "recovered.ome.tif"
RECOVERED_ZARR = "recovered.ome.zarr"
REPORT = "report.json"


@dataclass(frozen=True)
class PairProducts:
    """Everything a processed pair writes: volumes on their grids, the model, the assessment, the warnings.

    ``zoom`` is the calibrated zoom the model was trained and judged on; ``zoom_fdk`` the zoom as reconstructed.
    """

    pair_dir: Path
    fingerprint: str
    scans: PairScans
    zoom: np.ndarray
    zoom_fdk: VolumeWithMask
    scout_box: VolumeWithMask
    scout_native: VolumeWithMask
    registered: Registered
    model: ModelChoice
    output: VolumeWithMask
    placement: OutputPlacement
    plan: OutputPlan
    recovered: np.ndarray | OmeZarrVolume
    inference: InferenceStats | None
    assessment: Assessment
    warnings: list[str]
    calibration: CalibrationFigures | None = None


def _write_previews(out_dir: Path, p: PairProducts, ms_ssim_scales: int) -> list[str]:
    pdir = out_dir / "previews"
    a = p.assessment
    written = []
    z0, z1 = a.quality.test_slab_z
    zmid_box = p.zoom.shape[0] // 2
    ymid_box = p.zoom.shape[1] // 2
    trio = TRIO_LABELS  # the words report.html uses
    panels = {
        "zoom_region_axial.png": (
            [a.cubic_zoom_box[zmid_box], a.recovered_zoom_box[zmid_box], p.zoom[zmid_box]],
            trio,
            f"zoom region, axial slice z={zmid_box}",
        ),
        "heldout_axial.png": (
            [a.cubic_zoom_box[(z0 + z1) // 2], a.recovered_zoom_box[(z0 + z1) // 2], p.zoom[(z0 + z1) // 2]],
            trio,
            f"test slab (never trained on, not used to choose the model), z={(z0 + z1) // 2}",
        ),
        "zoom_region_xz.png": (
            [a.cubic_zoom_box[:, ymid_box], a.recovered_zoom_box[:, ymid_box], p.zoom[:, ymid_box]],
            trio,
            f"zoom region, orthogonal slice y={ymid_box}",
        ),
        "output_axial.png": (
            [a.cubic_output_slice, np.asarray(p.recovered[a.output_slice_z])],
            (BEFORE, AFTER),
            f"whole output region, axial slice z={a.output_slice_z}",
        ),
    }
    # one grey window for every panel of every preview, from the zoom's slices (as in report.html)
    window = grey_window([images[-1] for images, _, _ in list(panels.values())[:3]])
    zoom_voxel_mm, output_voxel_mm = p.scans.zoom.meta.voxel_mm, p.placement.grid.voxel_mm
    for name, (images, titles, title) in panels.items():
        voxel_mm = output_voxel_mm if name == "output_axial.png" else zoom_voxel_mm
        previews.side_by_side(pdir / name, images, titles, title, voxel_mm, window)
        written.append(f"previews/{name}")
    from pipeline.evaluate.trust import write_disagreement_png

    held = slice(z0, z1)
    write_disagreement_png(
        pdir / "heldout_disagreement.png",
        a.recovered_zoom_box[held],
        p.zoom[held],
        a.test_mask,
        cubic=a.cubic_zoom_box[held],
        scales=ms_ssim_scales,
    )
    written.append("previews/heldout_disagreement.png")
    if p.model.curve:
        previews.loss_curve(
            pdir / "loss_curve.png",
            [c.iteration for c in p.model.curve],
            [c.train_loss for c in p.model.curve],
            [c.val_loss for c in p.model.curve],
        )
        written.append("previews/loss_curve.png")
    return written


def _write_intermediates(out_dir: Path, p: PairProducts) -> list[str]:
    items = {
        "zoom_fdk.ome.tif": (p.zoom_fdk.volume, p.zoom_fdk.grid),
        "scout_fdk.ome.tif": (p.scout_native.volume, p.scout_native.grid),
        "scout_registered.ome.tif": (p.registered.scout, p.registered.result.zoom_grid_in_scout),
    }
    for name, (volume, grid) in items.items():
        write_ome_tiff(out_dir / name, volume, grid, name=name.split(".")[0])
    return list(items)


def _write_recovered(out_dir: Path, p: PairProducts, dtype: OutputDtype = "float32") -> list[str]:
    """The recovered volume as planned: the OME-Zarr written during inference is finished (pyramid, mask label,
    provenance) and moved into place; the OME-TIFF is written plane by plane from the memmap or the Zarr. For a
    ``uint16`` output one scale, chosen from the finished float32 volume, serves both files."""
    written = []
    value_scale: LinearScale | None = choose_scale(p.recovered) if dtype == "uint16" else None
    if p.plan.tiff:
        write_ome_tiff(out_dir / RECOVERED, p.recovered, p.placement.grid, name="recovered", value_scale=value_scale)
        written.append(RECOVERED)
    if p.plan.zarr:
        if not isinstance(p.recovered, OmeZarrVolume):
            raise TypeError("the plan has an OME-Zarr but inference did not write one")
        trust = p.assessment.trust
        p.recovered.finish(
            mask=p.output.mask,
            attributes={
                "value_unit": VALUE_UNIT,
                "model_id": p.model.id,
                "software_version": software_versions().get("scoutzoom", "unknown"),
                "trust": {"flagged": trust.flagged, "reasons": trust.reasons},
                "zoom_grid_in_scout": p.registered.result.zoom_grid_in_scout.model_dump(mode="json"),
                "registration": p.registered.result.model_dump(mode="json", exclude={"zoom_grid_in_scout"}),
            },
            value_scale=value_scale,
        )
        written.append(RECOVERED_ZARR)
    return written


def runtime_family(name: str) -> str:
    """``tensorrt``, ``onnxruntime`` or ``keras`` from a runtime's detailed name (e.g. ``onnxruntime-cpu``)."""
    for family in ("tensorrt", "onnxruntime", "keras"):
        if name.startswith(family):
            return family
    raise ValueError(f"unknown inference runtime {name!r}")


def build_report(
    p: PairProducts,
    config: ProcessConfig,
    runner: StageRunner,
    preview_files: list[str],
    intermediates: list[str],
    files: list[str],
) -> ProcessReport:
    grid = p.placement.grid
    result = p.registered.result
    registration = RegistrationInfo.model_validate(
        result.model_dump(mode="json", exclude={"zoom_grid_in_scout"})
        | {"zoom_grid_in_scout": result.zoom_grid_in_scout.model_dump(mode="json")}
    )
    model = ModelInfo(
        id=p.model.id,
        reused=p.model.reused,
        runtime=runtime_family(p.model.runtime.name),
        runtime_detail=p.model.runtime.name,
        decision=p.model.decision,
        training_curve=p.model.curve,
        validation=p.model.validation,
        parameters=p.model.parameters,
        cache=p.model.cache_decision,
    )
    volumes = {
        "zoom": p.zoom_fdk,
        "scout_zoom_box": p.scout_box,
        "scout_native": p.scout_native,
        "output_region": p.output,
    }
    reconstruction: dict[str, ReconstructionInfo] = {name: v.info for name, v in volumes.items() if v.info is not None}
    return ProcessReport(
        pair=str(p.pair_dir),
        sample_id=p.scans.zoom.meta.sample_id,
        fingerprint=p.fingerprint,
        preset=config.preset,
        config=config.model_dump(mode="json"),
        stages=dict(runner.timings),
        output=OutputInfo(
            file=files[0],
            files=files,
            shape_zyx=grid.shape_zyx,
            voxel_mm=p.scans.zoom.meta.voxel_mm,
            spacing_mm=grid.spacing_mm,
            origin_mm=grid.origin_mm,
            centre_mm=grid.centre_mm,
            direction=grid.direction,
            clipped_by_budget=p.placement.clipped_by_budget,
            zoom_offset_xyz=p.placement.zoom_offset_xyz,
        ),
        registration=registration,
        model=model,
        quality=p.assessment.quality,
        trust=p.assessment.trust,
        reconstruction=reconstruction,
        inference=p.inference,
        warnings=p.warnings,
        previews=preview_files,
        intermediates=intermediates,
        calibration=p.calibration.model_dump() if p.calibration is not None else None,
    )


def _write_report_html(out_dir: Path, p: PairProducts, report: ProcessReport, with_images: bool) -> None:
    """``report.html`` beside ``report.json``; written without pictures if drawing them fails."""
    from pipeline.output.report_html import report_images, write_report_html

    images = None
    if with_images:
        a = p.assessment
        images = report_images(
            a.cubic_zoom_box,
            a.recovered_zoom_box,
            p.zoom,
            p.registered.scout,
            report.quality.test_slab_z,
            p.scans.zoom.meta.voxel_mm,
        )
    try:
        write_report_html(out_dir, report, images)
    except (ValueError, RuntimeError, MemoryError):
        write_report_html(out_dir, report, None)


def write_products(out_dir: Path, p: PairProducts, config: ProcessConfig, runner: StageRunner) -> Path:
    """Everything except DONE (written last by the caller); returns the report path."""
    files = _write_recovered(out_dir, p, config.output.dtype)
    intermediates = _write_intermediates(out_dir, p) if config.output.keep_intermediates else []
    preview_files = _write_previews(out_dir, p, config.trust.ms_ssim_scales) if config.output.previews else []
    report = build_report(p, config, runner, preview_files, intermediates, files)
    path = out_dir / REPORT
    write_text_atomic(path, report.model_dump_json(indent=2) + "\n")
    _write_report_html(out_dir, p, report, config.output.previews)
    return path
