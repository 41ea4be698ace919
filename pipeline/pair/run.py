"""The stage sequence of one pair, after the completeness check (see :mod:`pipeline.pair.process`).

:func:`run_pair` is a list of named steps, each inside one ``runner.stage``;
each step is a small function on typed inputs and outputs, so the sequence
reads like the design: read -> reconstruct zoom -> reconstruct scout ->
register -> calibrate -> baseline -> model (cache / train) -> reconstruct
output -> infer -> assess -> write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from models.events import Assessed, emit
from pipeline.acquisition.volume import VolumeScan
from pipeline.calibrate import CalibrationFigures
from pipeline.config import ProcessConfig
from pipeline.errors import RegistrationError
from pipeline.grid import VolumeGrid
from pipeline.infer.stream import InferenceStats
from pipeline.output.plan import OutputPlan, check_disk_space, plan_output
from pipeline.output.volumes import scratch_volume
from pipeline.output.zarr_volume import OmeZarrVolume, partial_folder
from pipeline.pair import steps as pair_steps
from pipeline.pair.heldout import HeldoutSlabs, split_heldout
from pipeline.pair.report import ReconstructionInfo
from pipeline.pair.sources import PairSources
from pipeline.pair.stages import StageRunner
from pipeline.reconstruct.filtered import FilteredProjections
from pipeline.reconstruct.streamed import SlabReconstructor
from pipeline.region import OutputPlacement, output_placement
from pipeline.register.result import Registered

if TYPE_CHECKING:
    from pipeline.pair.model_step import ModelChoice


@dataclass
class PairResult:
    report_path: Path
    voxels_recovered: int


@dataclass
class ZoomData:
    """The zoom as reconstructed (``fdk``) and as trained on (``calibrated``), with the held-out slabs."""

    fdk: pair_steps.VolumeWithMask
    calibrated: np.ndarray
    train_mask: np.ndarray
    slabs: HeldoutSlabs
    calibration: CalibrationFigures | None = None


@dataclass
class OutputVolumes:
    """The output region: its placement, the formats it is written as, the scout on it and the recovered volume (a
    scratch memmap, or the OME-Zarr being written).

    Reconstructed first (``streamer`` None), ``scout.volume`` is the whole region (a scratch memmap). Streamed
    (``streamer`` set: FDK slab by slab inside inference, :func:`recover`), the region is never held: ``scout``
    carries its mask and, once inference is done, its reconstruction figures, and ``scout.volume`` is
    ``scout_window`` only. ``scout_window`` is the scout over the assessment's window
    (:func:`pipeline.pair.assess.outside_window`), in both cases."""

    placement: OutputPlacement
    plan: OutputPlan
    scout: pair_steps.VolumeWithMask
    scout_window: np.ndarray | None = None
    streamer: SlabReconstructor | None = None
    recovered: np.ndarray | OmeZarrVolume | None = None
    inference: InferenceStats | None = None


@dataclass
class Warnings:
    items: list[str] = field(default_factory=list)

    def add(self, more: list[str]) -> None:
        self.items.extend(more)


def run_pair(
    pair: PairSources, out_dir: Path, work_dir: Path, fingerprint: str, config: ProcessConfig, runner: StageRunner
) -> PairResult:
    """Reconstruct, register, get a model, recover the output region and write everything.

    A volume scan (scout or zoom) is resampled onto each grid where a projection scan is reconstructed
    (:func:`pipeline.pair.steps.reconstruct_on`); a warning and ``report.json`` ``reconstruction`` say so."""
    from pipeline.pair.assess import AssessmentInput, assess
    from pipeline.pair.model_step import ModelInputs, obtain_model
    from pipeline.pair.writeout import PairProducts, write_products

    warnings = Warnings()
    with runner.stage("read"):
        scans = pair_steps.read_pair(pair)
        warnings.add(scans.scout.warnings + scans.zoom.warnings + volume_notes(scans))
    with runner.stage("reconstruct_zoom"):
        zoom = reconstruct_zoom(scans, config, runner)
        warnings.add(zoom.warnings)
    with runner.stage("reconstruct_scout"):
        scout_filtered = pair_steps.prefilter(scans.scout, config, work_dir, "scout")  # once, for every scout grid
        scout_box, scout_native = reconstruct_scout(scans, zoom.grid, config, runner, work_dir, scout_filtered)
        warnings.add(scout_box.warnings)
    with runner.stage("register"):
        registered = register(scans, zoom, scout_box, config, runner, scout_filtered)
    with runner.stage("calibrate"):
        zoom_data = calibrate(scans, zoom, registered, config)
    with runner.stage("baseline"):
        cubic_box = cubic_baseline(scout_native, registered)
    model_inputs = ModelInputs(
        inputs=registered.scout,
        target=zoom_data.calibrated,
        mask=zoom_data.train_mask,
        slabs=zoom_data.slabs,
        baseline=cubic_box,
    )
    model = obtain_model(model_inputs, scans, config, runner, work_dir)  # its own stages: cache, train
    with runner.stage("reconstruct_output"):
        output = reconstruct_output(scans, registered, config, runner, work_dir, scout_filtered)
    with runner.stage("infer"):
        recover(output, model, config, runner, out_dir, work_dir, fingerprint)
    with runner.stage("assess"):
        assert output.recovered is not None and output.scout_window is not None
        assessment = assess(
            AssessmentInput(
                model=model,
                registered_scout=registered.scout,
                zoom=zoom_data.calibrated,
                mask=zoom_data.train_mask,
                slabs=zoom_data.slabs,
                cubic_box=cubic_box,
                scout_native=scout_native,
                output_scout=output.scout_window,
                output_recovered=output.recovered,
                output_mask=output.scout.mask,
                placement=output.placement,
                voxel_mm=registered.result.zoom_grid_in_scout.voxel_mm,
            ),
            config,
        )
        trust = assessment.trust
        emit(
            runner.progress,
            Assessed(
                stage="assess",
                flagged=trust.flagged,
                reasons=tuple(trust.reasons),
                psnr_gain_db=trust.psnr_gain_db,
                feature_recall=trust.features.recovered.recall if trust.features is not None else None,
            ),
        )
    with runner.stage("write"):
        products = PairProducts(
            pair_dir=pair.label,
            fingerprint=fingerprint,
            scans=scans,
            zoom=zoom_data.calibrated,
            zoom_fdk=zoom,
            scout_box=scout_box,
            scout_native=scout_native,
            registered=registered,
            model=model,
            output=output.scout,
            placement=output.placement,
            plan=output.plan,
            recovered=output.recovered,
            inference=output.inference,
            assessment=assessment,
            warnings=warnings.items,
            calibration=zoom_data.calibration,
        )
        report_path = write_products(out_dir, products, config, runner)
    return PairResult(report_path=report_path, voxels_recovered=int(np.prod(output.placement.grid.shape_zyx)))


def volume_notes(scans: pair_steps.PairScans) -> list[str]:
    """One line per volume scan: it skips FDK and is resampled (cubic B-spline) onto the grids the pair needs."""
    return [
        f"{role} is a reconstructed volume: resampled (cubic B-spline) onto the pair's grids instead of FDK"
        for role, scan in (("scout", scans.scout), ("zoom", scans.zoom))
        if isinstance(scan, VolumeScan)
    ]


def reconstruct_zoom(
    scans: pair_steps.PairScans, config: ProcessConfig, runner: StageRunner
) -> pair_steps.VolumeWithMask:
    """The zoom onto its own grid (an interior scan: truncation correction on)."""
    grid = pair_steps.zoom_native_grid(scans.zoom)
    return pair_steps.reconstruct_on(
        scans.zoom, grid, config, interior=True, progress=runner.inner, cancel=runner.cancel
    )


def reconstruct_scout(
    scans: pair_steps.PairScans,
    zoom_grid: VolumeGrid,
    config: ProcessConfig,
    runner: StageRunner,
    work_dir: Path,
    filtered: FilteredProjections | None = None,
) -> tuple[pair_steps.VolumeWithMask, pair_steps.VolumeWithMask]:
    """The scout onto the zoom box placed by the stage prior (for registration), and onto its whole native
    field of view (streamed to a scratch memmap; the cubic baseline's input)."""
    box = pair_steps.reconstruct_on(
        scans.scout,
        pair_steps.scout_box_grid(scans, zoom_grid),
        config,
        progress=runner.inner,
        cancel=runner.cancel,
        filtered=filtered,
    )
    native_grid = pair_steps.native_grid(scans.scout)
    native_out = scratch_volume(work_dir / "scout_native.npy", native_grid.shape_zyx)
    native = pair_steps.reconstruct_on(
        scans.scout, native_grid, config, out=native_out, progress=runner.inner, cancel=runner.cancel, filtered=filtered
    )
    return box, native


def register(
    scans: pair_steps.PairScans,
    zoom: pair_steps.VolumeWithMask,
    scout_box: pair_steps.VolumeWithMask,
    config: ProcessConfig,
    runner: StageRunner,
    filtered: FilteredProjections | None = None,
) -> Registered:
    """Scout onto zoom; the scout is re-reconstructed straight onto the registered zoom grid."""
    from pipeline.register import register_scout_to_zoom

    def reconstruct_scout_on(grid: VolumeGrid) -> tuple[np.ndarray, np.ndarray]:
        result = pair_steps.reconstruct_on(scans.scout, grid, config, cancel=runner.cancel, filtered=filtered)
        return result.volume, result.mask

    registered = register_scout_to_zoom(
        zoom.volume,
        zoom.mask,
        zoom.grid,
        scout_box.volume,
        scout_box.mask,
        scout_box.grid,
        config.registration,
        reconstruct_scout=reconstruct_scout_on,
        progress=runner.inner,
        cancel=runner.cancel,
    )
    if registered.scout.shape != zoom.volume.shape:
        raise RegistrationError(f"registered scout has shape {registered.scout.shape}, zoom {zoom.volume.shape}")
    return registered


def calibrate(
    scans: pair_steps.PairScans, zoom: pair_steps.VolumeWithMask, registered: Registered, config: ProcessConfig
) -> ZoomData:
    """The held-out slabs, and the zoom's low frequencies matched to the registered scout (when enabled:
    an interior FDK keeps a smooth bias that the network would otherwise learn)."""
    from pipeline.calibrate import calibrate_zoom

    train_mask = zoom.mask & registered.mask
    slabs = split_heldout(
        train_mask, config.training.validation_fraction, config.trust.test_fraction, min_slices=config.network.slices
    )
    if not config.calibration.enabled:
        return ZoomData(fdk=zoom, calibrated=zoom.volume, train_mask=train_mask, slabs=slabs)
    ratio = pair_steps.native_grid(scans.scout).voxel_mm / pair_steps.native_grid(scans.zoom).voxel_mm
    calibrated, figures = calibrate_zoom(zoom.volume, registered.scout, train_mask, ratio, config.calibration)
    return ZoomData(fdk=zoom, calibrated=calibrated, train_mask=train_mask, slabs=slabs, calibration=figures)


def cubic_baseline(scout_native: pair_steps.VolumeWithMask, registered: Registered) -> np.ndarray:
    """Cubic upsampling of the native scout onto the registered zoom grid: the baseline every model must beat."""
    from pipeline.baselines.upsample import cubic_upsample

    return cubic_upsample(scout_native.volume, scout_native.grid, registered.result.zoom_grid_in_scout).astype(
        np.float32
    )


def reconstruct_output(
    scans: pair_steps.PairScans,
    registered: Registered,
    config: ProcessConfig,
    runner: StageRunner,
    work_dir: Path,
    filtered: FilteredProjections | None = None,
) -> OutputVolumes:
    """The output region (default: the scout's whole field of view, on the registered zoom grid extended by
    whole voxels), with the scout on it: reconstructed whole into a scratch memmap, or, with
    ``output.stream_region`` and a projection scout, only set up here (checks, backend, mask) and reconstructed
    slab by slab inside inference. Fails first, clearly, when the disk cannot hold what the region needs."""
    from pipeline.pair.assess import outside_window

    region = config.output.region
    placement = output_placement(
        registered.result.zoom_grid_in_scout,
        centre_mm=region.centre_mm,
        size_mm=region.size_mm or pair_steps.field_of_view_mm(scans.scout),
        voxel_budget=region.voxel_budget,
    )
    grid = placement.grid
    streamed = config.output.stream_region and not isinstance(scans.scout, VolumeScan)
    plan = plan_output(config.output.format, grid.n_voxels, config.output.auto_zarr_above_gb, not streamed)
    check_disk_space(plan, work_dir)
    w0, w1 = outside_window(grid.shape_zyx[0])
    if streamed:
        streamer = SlabReconstructor(scans.scout, grid, config.reconstruction, filtered=filtered)  # type: ignore[arg-type]
        window = np.zeros((0, *grid.shape_zyx[1:]), np.float32)  # filled by recover()
        scout = pair_steps.VolumeWithMask(volume=window, mask=streamer.mask, grid=grid, warnings=streamer.warnings)
        return OutputVolumes(placement=placement, plan=plan, scout=scout, streamer=streamer)
    source = scratch_volume(work_dir / "scout_output_region.npy", grid.shape_zyx)
    scout = pair_steps.reconstruct_on(
        scans.scout, grid, config, out=source, progress=runner.inner, cancel=runner.cancel, filtered=filtered
    )
    source.flush()
    return OutputVolumes(placement=placement, plan=plan, scout=scout, scout_window=scout.volume[w0:w1])


def streamed_info(streamer: SlabReconstructor) -> ReconstructionInfo:
    """report.json's ``reconstruction.output_region`` of a streamed region: FDK wall seconds summed over its set-up
    (in ``reconstruct_output``) and every slab (inside ``infer``); ``slabs`` counts the FDK calls."""
    projections = int(streamer.scan.line_integrals.shape[0])
    return ReconstructionInfo(
        backend=streamer.backend.name,
        shape_zyx=streamer.grid.shape_zyx,
        projections=projections,
        seconds=round(streamer.seconds, 3),
        slabs=streamer.slabs,
        voxel_updates_per_s=streamer.voxels * projections / max(streamer.seconds, 1e-9),
        interior=streamer.interior,
        truncation_correction=streamer.truncation_correction,
        short_scan=streamer.short_scan,
    )


RECOVERED_SCRATCH = "recovered.npy"
RECOVERED_LEDGER = "recovered.ledger.json"


def resumable_paths(out_dir: Path, work_dir: Path) -> list[Path]:
    """What an interrupted run leaves in ``work_dir`` for a retry to continue from (``process_pair`` keeps these
    after a failure or a cancel): the partial recovered volume and its slab ledger."""
    from pipeline.pair.writeout import RECOVERED_ZARR

    return [
        work_dir / RECOVERED_SCRATCH,
        work_dir / RECOVERED_LEDGER,
        partial_folder(out_dir / RECOVERED_ZARR, work_dir),
    ]


def model_weights_id(model: ModelChoice) -> str:
    """A content id of the model's ONNX weights (order-free SHA-256 of each tensor), or ``model.id`` without an
    ONNX file. Not the file's hash: a retry retrains to the same weights, but the export's node names (Keras
    numbers its layers per process) and so the file's bytes differ."""
    import hashlib

    path = model.directory / "model.onnx"
    if not path.is_file():
        return model.id
    import onnx
    from onnx import numpy_helper

    digests = []
    for tensor in onnx.load(str(path)).graph.initializer:
        values = numpy_helper.to_array(tensor)
        digests.append(hashlib.sha256(f"{values.dtype}{values.shape}".encode() + values.tobytes()).hexdigest())
    return hashlib.sha256("".join(sorted(digests)).encode()).hexdigest()[:16]


def grid_key(grid: VolumeGrid) -> dict:
    """The grid for a fingerprint, to well under a micro-voxel: a retry's registration lands on the same grid up to
    float rounding (last bits of spacing, centre and direction), which must not restart its inference."""
    spacing = [float(f"{s:.9g}") for s in grid.spacing_mm]
    return {
        "shape_zyx": list(grid.shape_zyx),
        "spacing_mm": spacing,
        "centre_vox": [round(c / s, 6) for c, s in zip(grid.centre_mm, grid.spacing_mm)],
        "direction": [round(d, 9) for d in grid.direction],
    }


def inference_fingerprint(
    output: OutputVolumes, model: ModelChoice, pair_fingerprint: str, config: ProcessConfig
) -> str:
    """The job an inference ledger belongs to: the model's weights, the pair's content, the output grid, the
    normalisation, the tiling and the slice stack; a retry with any of them changed starts over."""
    from pipeline.infer.resume import job_fingerprint

    return job_fingerprint(
        model=model_weights_id(model),
        pair=pair_fingerprint,
        grid=grid_key(output.placement.grid),
        normalisation=model.normalisation,
        inference=config.inference,
        slices=config.network.slices,
    )


def recover(
    output: OutputVolumes,
    model: ModelChoice,
    config: ProcessConfig,
    runner: StageRunner,
    out_dir: Path,
    work_dir: Path,
    pair_fingerprint: str,
) -> None:
    """The model over the whole output region, slab by slab, straight into the OME-Zarr being written (when the
    plan has one) or into a scratch memmap. Resumable: the destination is reopened and the slabs its ledger
    records as written by this same job are skipped, so a retry after a failure or a cancel continues.

    A streamed region (``output.streamer``) is reconstructed as inference reads it: each z slab with its halo,
    then dropped (:class:`pipeline.infer.produced.ProducedSource`); skipped slabs are not reconstructed. The
    assessment's window of the scout is kept aside on the way (made after inference if a resume skipped it)."""
    from pipeline.infer.produced import ProducedSource
    from pipeline.infer.resume import SlabLedger
    from pipeline.infer.stream import infer_volume
    from pipeline.pair.writeout import RECOVERED_ZARR

    grid = output.placement.grid
    fingerprint = inference_fingerprint(output, model, pair_fingerprint, config)
    recovered: np.ndarray | OmeZarrVolume
    if output.plan.zarr:
        recovered = OmeZarrVolume(
            out_dir / RECOVERED_ZARR,
            grid,
            chunk_z=config.output.zarr_chunk_z,
            levels=config.output.pyramid_levels,
            temporary_dir=work_dir,
            resume=True,
        )
        ledger = recovered.ledger(fingerprint)
    else:
        recovered = scratch_volume(work_dir / RECOVERED_SCRATCH, grid.shape_zyx, reuse=True)
        ledger = SlabLedger(work_dir / RECOVERED_LEDGER, fingerprint)
    source: np.ndarray | ProducedSource = output.scout.volume
    if output.streamer is not None:
        from pipeline.pair.assess import outside_window

        source = ProducedSource(grid.shape_zyx, output.streamer.fill, keep=outside_window(grid.shape_zyx[0]))
    output.inference = infer_volume(
        model.runtime,
        source,
        recovered,
        model.normalisation,
        config.inference,
        slices=config.network.slices,
        progress=runner.inner,
        cancel=runner.cancel,
        ledger=ledger,
    )
    output.recovered = recovered
    if isinstance(source, ProducedSource) and output.streamer is not None:
        output.scout_window = source.kept()
        output.scout.volume = output.scout_window
        output.scout.info = streamed_info(output.streamer)
