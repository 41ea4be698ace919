"""``simulate_pair``: a scout/zoom pair in contract v1 plus its ground truth.

Writes ``OUT_DIR/truth/`` first, then ``OUT_DIR/pair/scout/`` and
``OUT_DIR/pair/zoom/`` (each ``scan.json`` last), then an empty
``OUT_DIR/pair/READY`` so a watcher takes the pair at once. Same config and
seed give the same bytes: every random draw comes from its own stream of one
``SeedSequence(seed)``.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from models.errors import InputError
from models.events import ProgressCallback, message, step
from pipeline.acquisition.contract import ScanMetadata
from pipeline.acquisition.writer import write_scan
from pipeline.simulate import detector
from pipeline.simulate.config import ScanSettings, SimulationConfig
from pipeline.simulate.geometry import PairGeometry, pair_geometry
from pipeline.simulate.phantom import Phantom, generate_phantom
from pipeline.simulate.project import project_transmission
from pipeline.simulate.truth import (
    PHANTOM_JSON,
    TRUTH_JSON,
    VOLUME_FILES,
    SimulationTruth,
    TruthGrids,
    context_grid,
    write_volume,
)
from pipeline.simulate.voxelise import voxelise

STAGE = "simulate"
CHUNK_ANGLES = 16
STREAMS = ("phantom", "stage", "scout_noise", "scout_flat", "zoom_noise", "zoom_flat")


class _Counter:
    """Progress over the whole simulation in work units (angle chunks, truth volumes)."""

    def __init__(self, progress: ProgressCallback | None, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0

    def advance(self, **values: float) -> None:
        self.done += 1
        step(self.progress, STAGE, self.done, self.total, **values)


def simulate_scan(
    phantom: Phantom,
    true_meta: ScanMetadata,
    settings: ScanSettings,
    config: SimulationConfig,
    *,
    mount_rotation: np.ndarray | None,
    noise_rng: np.random.Generator,
    flat_rng: np.random.Generator,
    counter: _Counter | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intensities ``[angle, row, col]`` (uint16), flat and dark pages of one scan."""
    geometry = true_meta.geometry
    angles = geometry.angles()
    pad = detector.blur_pad_px(settings)
    profile = detector.beam_profile(geometry.rows, geometry.columns, config.flat_falloff)
    projections = np.empty((angles.size, geometry.rows, geometry.columns), dtype=np.uint16)
    for start in range(0, angles.size, CHUNK_ANGLES):
        chunk = angles[start : start + CHUNK_ANGLES]
        transmission = project_transmission(
            phantom,
            true_meta,
            angles_deg=chunk,
            mount_rotation=mount_rotation,
            supersample=config.projection_supersample,
            pad_px=pad,
        )
        blurred = detector.blur(transmission, settings, pad)
        projections[start : start + chunk.size] = detector.detect(blurred, settings, config, profile, noise_rng)
        if counter is not None:
            counter.advance()
    flat, dark = detector.flat_and_dark(settings, config, profile, flat_rng)
    return projections, flat, dark


def _truth(config: SimulationConfig, phantom: Phantom, geometry: PairGeometry) -> SimulationTruth:
    zoom_recon = geometry.zoom_recorded.native_grid()
    zoom = geometry.zoom_grid_in_scout_frame(zoom_recon)
    grids = TruthGrids(
        scout=geometry.scout.native_grid(),
        zoom=zoom,
        zoom_recon=zoom_recon,
        context=context_grid(zoom, phantom, config.context_factor_xy, config.context_factor_z),
    )
    true_position = np.asarray(geometry.zoom_true.sample_position_mm)
    recorded_position = np.asarray(geometry.zoom_recorded.sample_position_mm)
    return SimulationTruth(
        seed=config.seed,
        ratio=config.ratio,
        config=config,
        n_pores=len(phantom.pores),
        porosity=phantom.porosity,
        mu_per_mm=phantom.mu_per_mm,
        scout_voxel_mm=config.scout_voxel,
        zoom_voxel_true_mm=config.zoom_voxel_mm,
        zoom_voxel_recorded_mm=float(geometry.zoom_recorded.voxel_mm),
        zoom_position_true_mm=tuple(true_position),
        zoom_position_recorded_mm=tuple(recorded_position),
        zoom_position_error_mm=tuple(recorded_position - true_position),
        remount_rotation_deg=config.remount_rotation_deg,
        remount_rotation_matrix=tuple(tuple(row) for row in geometry.mount_rotation),
        zoom_source_to_axis_true_mm=geometry.zoom_true.geometry.source_to_axis_mm,
        zoom_source_to_axis_recorded_mm=geometry.zoom_recorded.geometry.source_to_axis_mm,
        zoom_scale_factor=geometry.scale_factor,
        zoom_to_scout=tuple(tuple(row) for row in geometry.zoom_to_scout()),
        grids=grids,
        volumes=dict(VOLUME_FILES) if config.truth_volumes else {},
    )


def _prepare(out_dir: Path, overwrite: bool) -> None:
    for sub in ("pair", "truth"):
        path = out_dir / sub
        if path.exists() and any(path.iterdir()):
            if not overwrite:
                raise InputError(path, "already exists and is not empty (pass overwrite / --force to replace it)")
            shutil.rmtree(path)


def simulate_pair(
    out_dir: Path, config: SimulationConfig, *, progress: ProgressCallback | None = None, overwrite: bool = False
) -> SimulationTruth:
    """Simulate and write a scout/zoom pair and its truth under ``out_dir``; return the truth."""
    out_dir = Path(out_dir)
    _prepare(out_dir, overwrite)
    started = time.perf_counter()
    message(progress, STAGE, f"simulating seed {config.seed}, ratio {config.ratio}")
    rngs = dict(
        zip(STREAMS, (np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(len(STREAMS))))
    )
    phantom = generate_phantom(config.phantom, rngs["phantom"])
    geometry = pair_geometry(config, rngs["stage"])
    truth = _truth(config, phantom, geometry)
    chunks = sum(-(-s.angles // CHUNK_ANGLES) for s in (config.scout, config.zoom))
    counter = _Counter(progress, chunks + (3 if config.truth_volumes else 0))

    truth_dir = out_dir / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    phantom.save(truth_dir / PHANTOM_JSON)
    (truth_dir / TRUTH_JSON).write_text(truth.model_dump_json(indent=2) + "\n", encoding="utf-8")
    if config.truth_volumes:
        for name in ("scout", "zoom", "context"):
            grid = getattr(truth.grids, name)
            write_volume(truth_dir / VOLUME_FILES[name], voxelise(phantom, grid, config.truth_supersample), grid)
            counter.advance()

    pair_dir = out_dir / "pair"
    scans = (
        ("scout", geometry.scout, geometry.scout, config.scout, None),
        ("zoom", geometry.zoom_true, geometry.zoom_recorded, config.zoom, geometry.mount_rotation),
    )
    for role, true_meta, recorded_meta, settings, rotation in scans:
        projections, flat, dark = simulate_scan(
            phantom,
            true_meta,
            settings,
            config,
            mount_rotation=rotation,
            noise_rng=rngs[f"{role}_noise"],
            flat_rng=rngs[f"{role}_flat"],
            counter=counter,
        )
        write_scan(pair_dir / role, recorded_meta, projections, flat=flat, dark=dark, layout=config.layout)
    (pair_dir / "READY").touch()
    seconds = time.perf_counter() - started
    message(progress, STAGE, f"simulated {len(phantom.pores)} pores in {seconds:.1f} s")
    return truth
