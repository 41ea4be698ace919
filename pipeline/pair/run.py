"""The stage sequence of one pair, after the completeness check (see :mod:`pipeline.pair.process`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.pair import steps as pair_steps
from pipeline.config import ProcessConfig
from pipeline.errors import RegistrationError
from models.events import ProgressEvent, emit
from pipeline.grid import VolumeGrid
from pipeline.output.volumes import scratch_volume
from pipeline.region import output_placement
from pipeline.pair.stages import StageRunner


@dataclass
class PairResult:
    report_path: Path
    voxels_recovered: int


def run_pair(pair_dir: Path, out_dir: Path, work_dir: Path, fingerprint: str, config: ProcessConfig, runner: StageRunner) -> PairResult:
    """Reconstruct, register, get a model, recover the output region and write everything."""
    from pipeline.pair.assess import assess_heldout
    from pipeline.pair.model_step import obtain_model
    from pipeline.pair.writeout import PairProducts, write_products

    progress, cancel = runner.inner, runner.cancel
    warnings: list[str] = []
    with runner.stage("read"):
        scans = pair_steps.read_pair(pair_dir)
        warnings += scans.scout.warnings + scans.zoom.warnings

    with runner.stage("reconstruct_zoom"):
        zoom_grid = pair_steps.zoom_native_grid(scans.zoom)
        zoom = pair_steps.reconstruct_on(scans.zoom, zoom_grid, config, interior=True, progress=progress, cancel=cancel)
        warnings += zoom.warnings

    with runner.stage("reconstruct_scout"):
        box_grid = pair_steps.scout_box_grid(scans, zoom_grid)
        scout_box = pair_steps.reconstruct_on(scans.scout, box_grid, config, progress=progress, cancel=cancel)
        native_grid = scans.scout.meta.native_grid()
        native_out = scratch_volume(work_dir / "scout_native.npy", native_grid.shape_zyx)  # whole FOV: stream to disk
        scout_native = pair_steps.reconstruct_on(scans.scout, native_grid, config, out=native_out, progress=progress, cancel=cancel)
        warnings += scout_box.warnings

    with runner.stage("register"):
        registered = _register(scans, zoom, scout_box, config, runner)

    train_mask = zoom.mask & registered.mask
    zoom_fdk, calibration = zoom, None
    if config.calibration.enabled:
        with runner.stage("calibrate"):
            from pipeline.calibrate import calibrate_zoom

            ratio = scans.scout.meta.voxel_mm / scans.zoom.meta.voxel_mm
            calibrated, calibration = calibrate_zoom(zoom.volume, registered.scout, train_mask, ratio, config.calibration)
            zoom = pair_steps.VolumeWithMask(volume=calibrated, mask=zoom.mask, grid=zoom.grid, warnings=zoom.warnings)
    slab = pair_steps.heldout_slab(train_mask, config.training.validation_fraction, min_slices=config.network.slices)
    from pipeline.baselines.upsample import cubic_upsample

    cubic_box = cubic_upsample(scout_native.volume, scout_native.grid, registered.result.zoom_grid_in_scout).astype(np.float32)
    model = obtain_model(scans, registered.scout, zoom.volume, train_mask, slab, config, runner, work_dir, baseline=cubic_box)

    with runner.stage("reconstruct_output"):
        placement = output_placement(
            registered.result.zoom_grid_in_scout,
            scans.scout.meta,
            centre_mm=config.output.region.centre_mm,
            size_mm=config.output.region.size_mm,
            voxel_budget=config.output.region.voxel_budget,
        )
        source = scratch_volume(work_dir / "scout_output_region.npy", placement.grid.shape_zyx)
        output_scout = pair_steps.reconstruct_on(scans.scout, placement.grid, config, out=source, progress=progress, cancel=cancel)
        source.flush()

    with runner.stage("infer"):
        from pipeline.infer.stream import infer_volume

        recovered = scratch_volume(work_dir / "recovered.npy", placement.grid.shape_zyx)
        infer_volume(model.runtime, source, recovered, model.normalisation, config.inference,
                     slices=config.network.slices, progress=progress, cancel=cancel)
        recovered.flush()

    with runner.stage("assess"):
        assessment = assess_heldout(
            model=model, registered_scout=registered.scout, zoom=zoom.volume, mask=train_mask, slab=slab, cubic_box=cubic_box,
            scout_native=scout_native, zoom_grid_in_scout=registered.result.zoom_grid_in_scout,
            output_scout=source, output_recovered=recovered, output_mask=output_scout.mask,
            placement=placement, config=config,
        )
        trust = assessment.trust
        emit(progress, ProgressEvent(stage="assess", kind="metric", values={
            "trust_flagged": float(bool(trust.get("flagged"))),
            "psnr_gain_db": assessment.quality.psnr_recovered_db - assessment.quality.psnr_cubic_db,
        }, message="; ".join(trust.get("reasons", []))))

    with runner.stage("write"):
        products = PairProducts(
            pair_dir=pair_dir, fingerprint=fingerprint, scans=scans, zoom=zoom, zoom_fdk=zoom_fdk, scout_native=scout_native,
            registered=registered, model=model, placement=placement, recovered=recovered, assessment=assessment,
            warnings=warnings, calibration=calibration,
        )
        report_path = write_products(out_dir, products, config, runner)
    return PairResult(report_path=report_path, voxels_recovered=int(np.prod(placement.grid.shape_zyx)))


def _register(scans: pair_steps.PairScans, zoom: pair_steps.VolumeWithMask, scout_box: pair_steps.VolumeWithMask, config: ProcessConfig, runner: StageRunner):
    """Scout onto zoom; the scout is re-reconstructed straight onto the registered zoom grid."""
    from pipeline.register import register_scout_to_zoom

    def reconstruct_scout(grid: VolumeGrid) -> tuple[np.ndarray, np.ndarray]:
        result = pair_steps.reconstruct_on(scans.scout, grid, config, cancel=runner.cancel)
        return result.volume, result.mask

    registered = register_scout_to_zoom(
        zoom.volume, zoom.mask, zoom.grid, scout_box.volume, scout_box.mask, scout_box.grid, config.registration,
        reconstruct_scout=reconstruct_scout, progress=runner.inner, cancel=runner.cancel,
    )
    if registered.scout.shape != zoom.volume.shape:
        raise RegistrationError(f"registered scout has shape {registered.scout.shape}, zoom {zoom.volume.shape}")
    return registered
