"""The methods compared, all on the data of one processed pair.

- ``cubic``: the native scout FDK (``scout_fdk``) cubic-upsampled onto the recovered grid;
- ``subvoxel_fdk``: the scout reconstructed straight onto the recovered grid (the U-Net's input);
- ``richardson_lucy``: 30 iterations on ``subvoxel_fdk``, Gaussian PSF fitted on the registered training pair;
- ``srcnn``: 3D SRCNN trained on the registered training pair, applied to ``subvoxel_fdk``;
- ``unet``: the product's recovered volume (``recovered.ome.tif``) with the size's preset;
- ``unet_small``, ``unet_medium``: the same with that preset (the pair processed again when it is not the size's).

Learned methods see only the zoom region; the evaluation region is outside it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile

from benchmarks.foam_study.data import StudySize
from benchmarks.foam_study.pair import ProcessedPair, process_again
from pipeline.output.volumes import read_ome_grid

UNET_STAGES = ("train", "reconstruct_output", "infer")


@dataclass
class TrainingPair:
    """The registered scout and the calibrated zoom, voxel for voxel, with the training mask."""

    scout: np.ndarray
    zoom: np.ndarray
    mask: np.ndarray


def _read(pair: ProcessedPair, name: str):
    path = pair.out_dir / name
    return tifffile.imread(path).astype(np.float32), read_ome_grid(path)


def training_pair(pair: ProcessedPair) -> TrainingPair:
    """What the U-Net trained on, rebuilt from the kept intermediates (same mask and calibration)."""
    from pipeline.calibrate import calibrate_zoom
    from pipeline.pair.steps import read_pair
    from pipeline.reconstruct.mask import reconstruction_mask

    scans = read_pair(pair.pair_dir)
    zoom, zoom_grid = _read(pair, "zoom_fdk.ome.tif")
    scout, scout_grid = _read(pair, "scout_registered.ome.tif")
    mask = reconstruction_mask(scans.zoom.meta, zoom_grid) & reconstruction_mask(scans.scout.meta, scout_grid)
    if pair.config.calibration.enabled:
        zoom, _ = calibrate_zoom(
            zoom, scout, mask, scans.scout.meta.voxel_mm / scans.zoom.meta.voxel_mm, pair.config.calibration
        )
    return TrainingPair(scout=scout, zoom=zoom, mask=mask)


def subvoxel_fdk(pair: ProcessedPair) -> np.ndarray:
    """The scout FDK straight onto the recovered grid."""
    from pipeline.pair.steps import read_pair, reconstruct_on

    return reconstruct_on(read_pair(pair.pair_dir).scout, pair.grid, pair.config).volume


def cubic(pair: ProcessedPair) -> np.ndarray:
    from pipeline.baselines.upsample import cubic_upsample

    scout, grid = _read(pair, "scout_fdk.ome.tif")
    return cubic_upsample(scout, grid, pair.grid)


def richardson_lucy(pair: ProcessedPair, train: TrainingPair, source: np.ndarray) -> tuple[np.ndarray, dict]:
    from pipeline.baselines.psf import estimate_psf_sigma
    from pipeline.baselines.richardson_lucy import richardson_lucy as rl

    sigma = estimate_psf_sigma(train.scout, train.zoom, train.mask)
    return rl(source, sigma, iterations=30), {"psf_sigma_zoom_px": sigma, "iterations": 30}


def srcnn(pair: ProcessedPair, train: TrainingPair, source: np.ndarray, size: StudySize) -> tuple[np.ndarray, dict]:
    from models.config import SRCNNConfig
    from models.srcnn import train_srcnn
    from pipeline.baselines.srcnn import apply_srcnn

    config = SRCNNConfig(iterations=size.srcnn_iterations, tile_px=size.srcnn_tile_px)
    model = train_srcnn(train.scout, train.zoom, train.mask, config)
    return apply_srcnn(model, source), config.model_dump(mode="json")


def unet(pair: ProcessedPair) -> tuple[np.ndarray, float]:
    """The product's output and the seconds of its own stages (training, output FDK, inference)."""
    volume = tifffile.imread(pair.out_dir / "recovered.ome.tif").astype(np.float32)
    return volume, sum(pair.seconds.get(f"stage_{s}", 0.0) for s in UNET_STAGES)


def product_verdict(out_dir: Path) -> dict:
    """What the product itself said of its output (``report.json``'s verdict and reasons): whether its trust report
    noticed what the study's scores show."""
    import json

    summary = json.loads((Path(out_dir) / "report.json").read_text()).get("summary") or {}
    return {"verdict": summary.get("verdict"), "reasons": summary.get("reasons", [])}


def _same_grid(a, b, tol_voxel: float = 0.01) -> bool:
    """Same shape, and spacing, centre and direction within ``tol_voxel`` of a voxel (registration's last bits)."""
    voxel = min(b.spacing_mm)
    close = np.allclose(a.spacing_mm, b.spacing_mm, atol=1e-6) and np.allclose(a.direction, b.direction, atol=1e-6)
    return a.shape_zyx == b.shape_zyx and close and np.allclose(a.centre_mm, b.centre_mm, atol=tol_voxel * voxel)


def unet_out_dir(pair: ProcessedPair, preset: str | None) -> Path:
    """Where the product's run with ``preset`` (None: the pair's own) wrote its output."""
    return pair.out_dir if preset in (None, pair.config.preset) else pair.root / f"out_{preset}"


def unet_preset(pair: ProcessedPair, preset: str) -> tuple[np.ndarray, float]:
    """The product's output with ``preset``: the pair's own when it ran with that preset, else a second run."""
    if pair.config.preset == preset:
        return unet(pair)
    out, stages = process_again(pair, preset)
    grid = read_ome_grid(out / "recovered.ome.tif")
    if not _same_grid(grid, pair.grid):
        raise RuntimeError(f"R={pair.ratio:g}: the {preset} run's output grid differs from the scored one ({grid})")
    volume = tifffile.imread(out / "recovered.ome.tif").astype(np.float32)
    return volume, sum(stages.get(s, 0.0) for s in UNET_STAGES)


METHODS = ("cubic", "subvoxel_fdk", "richardson_lucy", "srcnn", "unet", "unet_small", "unet_medium")


def run_methods(
    pair: ProcessedPair, size: StudySize, names: tuple[str, ...] | list[str], log: Callable[[str], None] = print
) -> tuple[dict[str, np.ndarray], dict[str, float], dict]:
    """Every requested method's volume on ``pair.grid``, its seconds and its settings."""
    volumes: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    settings: dict = {}
    train = training_pair(pair) if {"richardson_lucy", "srcnn"} & set(names) else None
    t0 = time.perf_counter()
    source = subvoxel_fdk(pair)
    source_s = time.perf_counter() - t0
    for name in names:
        t0 = time.perf_counter()
        if name == "cubic":
            volumes[name] = cubic(pair)
        elif name == "subvoxel_fdk":
            volumes[name] = source
        elif name == "richardson_lucy":
            volumes[name], settings[name] = richardson_lucy(pair, train, source)
        elif name == "srcnn":
            volumes[name], settings[name] = srcnn(pair, train, source, size)
        elif name == "unet":
            volumes[name], seconds[name] = unet(pair)
            settings[name] = {"product_verdict": product_verdict(unet_out_dir(pair, None))}
            continue
        elif name.startswith("unet_"):
            preset = name.removeprefix("unet_")
            volumes[name], seconds[name] = unet_preset(pair, preset)
            settings[name] = {"product_verdict": product_verdict(unet_out_dir(pair, preset))}
            wall = time.perf_counter() - t0
            log(f"R={pair.ratio:g} {name}: {wall:.0f} s (train + output FDK + infer {seconds[name]:.0f} s)")
            continue
        seconds[name] = time.perf_counter() - t0 + (source_s if name != "cubic" else 0.0)
        log(f"R={pair.ratio:g} {name}: {seconds[name]:.0f} s")
    return volumes, seconds, settings
