"""Write a processed pair's products: recovered volume, intermediates, previews, report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.atomic import write_text_atomic
from pipeline.config import ProcessConfig
from pipeline.output import previews
from pipeline.output.volumes import write_ome_tiff
from pipeline.region import OutputPlacement
from pipeline.pair.report import CurvePointInfo, ModelInfo, OutputInfo, ProcessReport, RegistrationInfo
from pipeline.pair.stages import StageRunner

RECOVERED = "recovered.ome.tif"
REPORT = "report.json"


@dataclass
class PairProducts:
    pair_dir: Path
    fingerprint: str
    scans: Any
    zoom: Any
    zoom_fdk: Any
    scout_native: Any
    registered: Any
    model: Any
    placement: OutputPlacement
    recovered: np.ndarray
    assessment: Any
    warnings: list[str]
    calibration: Any = None
    config_trust_scales: int = 3


def _write_previews(out_dir: Path, p: PairProducts) -> list[str]:
    pdir = out_dir / "previews"
    a = p.assessment
    written = []
    z0, z1 = a.quality.heldout_slab_z
    zmid_box = p.zoom.volume.shape[0] // 2
    ymid_box = p.zoom.volume.shape[1] // 2
    trio = ("scout (cubic)", "recovered", "zoom")
    panels = {
        "zoom_region_axial.png": ([a.cubic_zoom_box[zmid_box], a.recovered_zoom_box[zmid_box], p.zoom.volume[zmid_box]], trio, f"zoom region, axial slice z={zmid_box}"),
        "heldout_axial.png": ([a.cubic_zoom_box[(z0 + z1) // 2], a.recovered_zoom_box[(z0 + z1) // 2], p.zoom.volume[(z0 + z1) // 2]], trio, f"held-out slab (never trained on), z={(z0 + z1) // 2}"),
        "zoom_region_xz.png": ([a.cubic_zoom_box[:, ymid_box], a.recovered_zoom_box[:, ymid_box], p.zoom.volume[:, ymid_box]], trio, f"zoom region, orthogonal slice y={ymid_box}"),
        "output_axial.png": ([a.cubic_output_slice, np.asarray(p.recovered[a.output_slice_z])], ("scout (cubic)", "recovered"), f"whole output region, axial slice z={a.output_slice_z}"),
    }
    for name, (images, titles, title) in panels.items():
        previews.side_by_side(pdir / name, images, titles, title)
        written.append(f"previews/{name}")
    from pipeline.evaluate.trust import write_disagreement_png

    held = slice(z0, z1)
    write_disagreement_png(pdir / "heldout_disagreement.png", a.recovered_zoom_box[held], p.zoom.volume[held],
                           a.held_mask, cubic=a.cubic_zoom_box[held], scales=p.config_trust_scales)
    written.append("previews/heldout_disagreement.png")
    if p.model.curve:
        previews.loss_curve(pdir / "loss_curve.png", [c.iteration for c in p.model.curve], [c.train_loss for c in p.model.curve], [c.val_loss for c in p.model.curve])
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


def runtime_family(name: str) -> str:
    """``tensorrt``, ``onnxruntime`` or ``keras`` from a runtime's detailed name (e.g. ``onnxruntime-cpu``)."""
    for family in ("tensorrt", "onnxruntime", "keras"):
        if name.startswith(family):
            return family
    raise ValueError(f"unknown inference runtime {name!r}")


def build_report(p: PairProducts, config: ProcessConfig, runner: StageRunner, preview_files: list[str], intermediates: list[str]) -> ProcessReport:
    grid = p.placement.grid
    result = p.registered.result
    registration = RegistrationInfo.model_validate(result.model_dump(mode="json", exclude={"zoom_grid_in_scout"}) | {"zoom_grid_in_scout": result.zoom_grid_in_scout.model_dump(mode="json")})
    model = ModelInfo(
        id=p.model.id, reused=p.model.reused, runtime=runtime_family(p.model.runtime.name), runtime_detail=p.model.runtime.name, decision=p.model.decision,
        training_curve=[CurvePointInfo(iteration=c.iteration, train_loss=c.train_loss, val_loss=c.val_loss) for c in p.model.curve],
        parameters=p.model.parameters, cache=p.model.cache_decision,
    )
    return ProcessReport(
        pair=str(p.pair_dir), sample_id=p.scans.zoom.meta.sample_id, fingerprint=p.fingerprint, preset=config.preset,
        config=config.model_dump(mode="json"), stages=dict(runner.timings),
        output=OutputInfo(
            shape_zyx=grid.shape_zyx, voxel_mm=p.scans.zoom.meta.voxel_mm, spacing_mm=grid.spacing_mm, origin_mm=grid.origin_mm,
            centre_mm=grid.centre_mm, direction=grid.direction, clipped_by_budget=p.placement.clipped_by_budget,
            zoom_offset_xyz=p.placement.zoom_offset_xyz,
        ),
        registration=registration, model=model, quality=p.assessment.quality, trust=p.assessment.trust,
        warnings=p.warnings, previews=preview_files, intermediates=intermediates,
        calibration=p.calibration.model_dump() if p.calibration is not None else None,
    )


def write_products(out_dir: Path, p: PairProducts, config: ProcessConfig, runner: StageRunner) -> Path:
    """Everything except DONE (written last by the caller); returns the report path."""
    write_ome_tiff(out_dir / RECOVERED, p.recovered, p.placement.grid, name="recovered")
    intermediates = _write_intermediates(out_dir, p) if config.output.keep_intermediates else []
    p.config_trust_scales = config.trust.ms_ssim_scales
    preview_files = _write_previews(out_dir, p) if config.output.previews else []
    report = build_report(p, config, runner, preview_files, intermediates)
    path = out_dir / REPORT
    write_text_atomic(path, report.model_dump_json(indent=2) + "\n")
    return path
