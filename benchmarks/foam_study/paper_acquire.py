"""One realisation of the one-grid protocol: phantom, blurred noisy projections, FDK on the 1 um grid.

Composed from the product's own simulator and reconstruction: exact analytic
line integrals (``project_transmission``, computed once per realisation and
shared by every resolution), the detector model's Gaussian PSF and Poisson
counts (``detector.blur`` / ``detector.detect``, no dark, no read noise, flat
beam: the paper's "blur and fixed Poisson noise" only), and RTK FDK
(``pipeline.reconstruct``) onto the same grid. Each resolution gets its own
noise stream of one ``SeedSequence(seed)``, so a seed fixes every byte.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.foam_study.paper_size import PaperSize
from pipeline.acquisition.contract import AngleRange, Geometry, ScanMetadata
from pipeline.acquisition.scan import Scan
from pipeline.grid import VolumeGrid
from pipeline.reconstruct import ReconConfig, reconstruct, reconstruction_mask
from pipeline.simulate import Phantom, Pore, ScanSettings, SimulationConfig, detector, generate_phantom, voxelise
from pipeline.simulate.project import project_transmission

CHUNK_ANGLES = 16
PROJECTION_SUPERSAMPLE = 2
TRUTH_SUPERSAMPLE = 2
ELIGIBLE_CLEARANCE_PX = 2.0


@dataclass
class Realisation:
    """One foam and its FDK volumes at each resolution (um -> float32 ``[z, y, x]``, 1/mm)."""

    seed: int
    phantom: Phantom
    grid: VolumeGrid
    meta: ScanMetadata
    fov_mask: np.ndarray  # voxels FDK reconstructs
    analysis_mask: np.ndarray  # the phantom cylinder shrunk by the margin, inside the field of view
    truth: np.ndarray  # the phantom voxelised on ``grid``
    eligible_pores: list[Pore]  # truth pores wholly inside the analysed cylinder
    fdk: dict[float, np.ndarray] = field(default_factory=dict)
    coarse_cubic: dict[float, np.ndarray] = field(default_factory=dict)  # FDK on an R um grid, cubic onto ``grid``
    seconds: dict[str, float] = field(default_factory=dict)


def scan_metadata(size: PaperSize) -> ScanMetadata:
    """The scan: circular cone beam, detector pitch = voxel x magnification, line integrals."""
    sod = size.source_to_axis_mm
    n = size.detector_px
    geometry = Geometry(
        source_to_axis_mm=sod,
        source_to_detector_mm=sod * size.magnification,
        detector_shape=(n, n),
        detector_pixel_mm=(size.voxel_mm * size.magnification,) * 2,
        angles_deg=AngleRange(start=0.0, step=360.0 / size.n_angles, count=size.n_angles),
    )
    return ScanMetadata(
        format_version=1,
        role="zoom",
        sample_id="foam-paper",
        values="line_integral",
        geometry=geometry,
        recon_voxel_mm=size.voxel_mm,
    )


def analysis_region(
    size: PaperSize, phantom: Phantom, grid: VolumeGrid, fov_mask: np.ndarray
) -> tuple[np.ndarray, list[Pore]]:
    """The analysed cylinder (mask) and the truth pores wholly inside it with a clearance.

    The pore analysis drops pores that touch the (eroded) region boundary, so a truth pore counts only
    when ``ELIGIBLE_CLEARANCE_PX`` voxels of solid separate it from that boundary; otherwise the
    phantom itself would "miss" it.
    """
    radius = phantom.cylinder.radius_mm - size.analysis_margin_um / 1000.0
    half_height = phantom.cylinder.height_mm / 2.0 - size.analysis_margin_um / 1000.0
    z, y, x = grid.axis_coordinates()
    inside = (x[None, None, :] ** 2 + y[None, :, None] ** 2 <= radius**2) & (np.abs(z)[:, None, None] <= half_height)
    centres, radii = phantom.pore_arrays()
    clearance = ELIGIBLE_CLEARANCE_PX * grid.voxel_mm
    reach = radii + clearance
    keep = (np.hypot(centres[:, 0], centres[:, 1]) + reach <= radius) & (np.abs(centres[:, 2]) + reach <= half_height)
    return inside & fov_mask, [p for p, k in zip(phantom.pores, keep, strict=True) if k]


def _line_integrals(
    size: PaperSize, phantom: Phantom, meta: ScanMetadata, resolutions_um: Sequence[float], seed: int
) -> dict[float, np.ndarray]:
    """Blurred, Poisson-noisy line integrals ``[angle, row, col]`` per resolution (float32)."""
    geometry = meta.geometry
    settings = {
        r: ScanSettings(
            detector_px=geometry.columns,
            angles=geometry.n_angles,
            photons=size.photons,
            blur_sigma_px=r / size.voxel_um,
        )
        for r in resolutions_um
    }
    pad = max(detector.blur_pad_px(s) for s in settings.values())
    noise = SimulationConfig(dark_counts=0.0, read_noise_counts=0.0, flat_frames=0)
    profile = detector.beam_profile(geometry.rows, geometry.columns, 0.0)
    streams = np.random.SeedSequence(seed).spawn(len(resolutions_um) + 1)[1:]
    rngs = {r: np.random.default_rng(s) for r, s in zip(resolutions_um, streams, strict=True)}
    angles = geometry.angles()
    out = {r: np.empty((angles.size, geometry.rows, geometry.columns), np.float32) for r in resolutions_um}
    for start in range(0, angles.size, CHUNK_ANGLES):
        chunk = angles[start : start + CHUNK_ANGLES]
        transmission = project_transmission(
            phantom, meta, angles_deg=chunk, supersample=PROJECTION_SUPERSAMPLE, pad_px=pad
        )
        for r in resolutions_um:
            counts = detector.detect(
                detector.blur(transmission, settings[r], pad), settings[r], noise, profile, rngs[r]
            )
            out[r][start : start + chunk.size] = -np.log(np.maximum(counts, 1).astype(np.float64) / size.photons)
    return out


def acquire(
    size: PaperSize,
    seed: int,
    resolutions_um: Sequence[float],
    *,
    coarse_cubic: bool = False,
    recon: ReconConfig | None = None,
    log: Callable[[str], None] = print,
) -> Realisation:
    """Simulate one realisation and reconstruct it at every resolution (and, if asked, coarse + cubic)."""
    from pipeline.baselines.upsample import cubic_upsample

    recon = recon or ReconConfig()
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    phantom = generate_phantom(size.phantom(), np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0]))
    meta = scan_metadata(size)
    grid = VolumeGrid.isotropic((size.grid_px,) * 3, size.voxel_mm)
    projections = _line_integrals(size, phantom, meta, resolutions_um, seed)
    seconds["simulate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    truth = voxelise(phantom, grid, TRUTH_SUPERSAMPLE)
    fov = reconstruction_mask(meta, grid)
    mask, eligible = analysis_region(size, phantom, grid, fov)
    seconds["truth"] = time.perf_counter() - t0
    real = Realisation(
        seed=seed,
        phantom=phantom,
        grid=grid,
        meta=meta,
        fov_mask=fov,
        analysis_mask=mask,
        truth=truth,
        eligible_pores=eligible,
        seconds=seconds,
    )
    for r in resolutions_um:
        t0, cpu0 = time.perf_counter(), time.process_time()
        scan = Scan(meta=meta, line_integrals=projections[r])
        real.fdk[r] = reconstruct(scan, grid, recon, interior=False).volume
        seconds[f"fdk_{r:g}"] = time.perf_counter() - t0
        seconds[f"fdk_{r:g}_cpu"] = time.process_time() - cpu0
        if coarse_cubic and r > size.voxel_um:
            t0 = time.perf_counter()
            coarse = VolumeGrid.covering(grid.size_mm, r / 1000.0)
            volume = reconstruct(scan, coarse, recon, interior=False).volume
            real.coarse_cubic[r] = cubic_upsample(volume, coarse, grid)
            seconds[f"cubic_{r:g}"] = time.perf_counter() - t0
        log(f"seed {seed}: R={r:g} um reconstructed ({seconds[f'fdk_{r:g}']:.0f} s)")
    log(
        f"seed {seed}: {len(phantom.pores)} pores, {len(eligible)} inside the analysed cylinder, porosity "
        f"{phantom.porosity:.3f}; "
        f"simulated in {seconds['simulate']:.0f} s"
    )
    return real


def _cache_path(cache_dir: Path, size: PaperSize, seed: int, coarse_cubic: bool) -> Path:
    """One file per size, seed and kind; it records its resolutions, and serves any subset of them."""
    key = json.dumps([size.model_dump(mode="json"), seed, coarse_cubic], sort_keys=True)
    return (
        Path(cache_dir) / f"realisation_{size.grid_px}px_seed{seed}_{hashlib.sha256(key.encode()).hexdigest()[:12]}.npz"
    )


def save_realisation(path: Path, real: Realisation) -> None:
    """Volumes, field-of-view mask and phantom of ``real`` in one ``.npz`` (a later run of the same settings reuses it).

    The analysed region and its eligible pores are not stored: loading derives them with the current rule.
    """
    arrays = {f"fdk_{r:g}": v for r, v in real.fdk.items()} | {f"cubic_{r:g}": v for r, v in real.coarse_cubic.items()}
    meta = {"seed": real.seed, "phantom": real.phantom.model_dump(mode="json"), "seconds": real.seconds}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez(
        partial,
        truth=real.truth,
        fov_mask=real.fov_mask,
        meta=np.frombuffer(json.dumps(meta).encode(), np.uint8),
        **arrays,
    )
    partial.replace(path)


def load_realisation(path: Path, size: PaperSize) -> Realisation:
    """What :func:`save_realisation` wrote, with the analysed region derived again."""
    with np.load(path) as data:
        meta = json.loads(bytes(data["meta"]).decode())
        phantom = Phantom.model_validate(meta["phantom"])
        grid = VolumeGrid.isotropic((size.grid_px,) * 3, size.voxel_mm)
        fov = data["fov_mask"]
        mask, eligible = analysis_region(size, phantom, grid, fov)
        real = Realisation(
            seed=meta["seed"],
            phantom=phantom,
            grid=grid,
            meta=scan_metadata(size),
            fov_mask=fov,
            analysis_mask=mask,
            truth=data["truth"],
            eligible_pores=eligible,
            seconds=meta["seconds"],
        )
        for name in data.files:
            kind, _, r = name.partition("_")
            if kind == "fdk":
                real.fdk[float(r)] = data[name]
            elif kind == "cubic":
                real.coarse_cubic[float(r)] = data[name]
    return real


def acquire_cached(
    size: PaperSize,
    seed: int,
    resolutions_um: Sequence[float],
    cache_dir: Path | None,
    *,
    coarse_cubic: bool = False,
    log: Callable[[str], None] = print,
) -> Realisation:
    """:func:`acquire`, reusing (or filling) ``cache_dir`` when one is given."""
    if cache_dir is None:
        return acquire(size, seed, resolutions_um, coarse_cubic=coarse_cubic, log=log)
    path = _cache_path(cache_dir, size, seed, coarse_cubic)
    if path.is_file():
        real = load_realisation(path, size)
        if set(map(float, resolutions_um)) <= set(real.fdk):
            log(f"seed {seed}: reusing {path}")
            return real
    real = acquire(size, seed, resolutions_um, coarse_cubic=coarse_cubic, log=log)
    save_realisation(path, real)
    return real
