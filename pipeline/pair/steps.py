"""The geometric stages of one pair: read, reconstruct, register, place the output.

Each function does one stage on typed inputs and returns typed results; the
orchestration lives in :mod:`pipeline.pair.run` and :mod:`pipeline.pair.process`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.errors import InputError
from models.events import CancelToken, ProgressCallback
from pipeline.acquisition import layout as names
from pipeline.acquisition.contract import pair_offset_mm
from pipeline.acquisition.scan import Scan
from pipeline.config import ProcessConfig
from pipeline.grid import VolumeGrid
from pipeline.pair.report import ReconstructionInfo
from pipeline.reconstruct.filtered import FilteredProjections


@dataclass
class PairScans:
    scout: Scan
    zoom: Scan


@dataclass
class VolumeWithMask:
    """A reconstructed volume ``[z, y, x]`` (1/mm) on ``grid`` with its reconstructable region, and how it was made."""

    volume: np.ndarray
    mask: np.ndarray
    grid: VolumeGrid
    warnings: list[str]
    info: ReconstructionInfo | None = None


def prefilter(scan: Scan, config: ProcessConfig, work_dir: Path, name: str) -> FilteredProjections | None:
    """The scan's projections weighted and ramp-filtered once (a scratch memmap), for every grid it is reconstructed
    on, when the configured backend can start from them (the numba CPU backend); None otherwise."""
    from pipeline.output.volumes import scratch_volume
    from pipeline.reconstruct import filter_scan
    from pipeline.reconstruct.backends import make_backend
    from pipeline.reconstruct.backends.base import PrefilteredBackend

    backend = make_backend(config.reconstruction.backend, config.reconstruction.cpu_threads)
    if not isinstance(backend, PrefilteredBackend):
        return None
    out = scratch_volume(work_dir / f"{name}_filtered.npy", tuple(scan.line_integrals.shape))  # type: ignore[arg-type]
    return filter_scan(scan, config.reconstruction, interior=None, out=out)  # truncation detected as reconstruct() does


def read_scan_source(scan_dir: Path, role: str) -> Scan:
    """One scan of a pair, in any supported format (contract v1 folder, ZEISS .txrm, Nikon .xtekct, NXtomo), as
    line integrals; raises InputError naming the file and the problem."""
    from pipeline.acquisition.formats.registry import detect, read_any

    source = detect(scan_dir)
    if source is None:
        raise InputError(
            scan_dir, "no scan here: expected scan.json (contract v1), a .txrm, an .xtekct or an NXtomo file"
        )
    scan = read_any(source, role=role)  # type: ignore[arg-type]
    if not isinstance(scan, Scan):
        raise InputError(
            source.path,
            "a reconstructed-volume scan can be inspected (scoutzoom inspect) but a pair holding "
            "one cannot be processed yet: give this scan's projections",
        )
    return scan


def read_pair(pair_dir: Path) -> PairScans:
    """Both scans as line integrals (raises InputError naming the file)."""
    return PairScans(
        scout=read_scan_source(Path(pair_dir) / names.SCOUT, "scout"),
        zoom=read_scan_source(Path(pair_dir) / names.ZOOM, "zoom"),
    )


def zoom_native_grid(zoom: Scan) -> VolumeGrid:
    """The zoom's own grid: its field of view at its voxel size, centred on its rotation axis."""
    return zoom.meta.native_grid()


def scout_box_grid(scans: PairScans, zoom_grid: VolumeGrid) -> VolumeGrid:
    """The zoom's grid placed in the scout frame by the stage prior (sample positions)."""
    return zoom_grid.with_centre(tuple(float(v) for v in pair_offset_mm(scans.scout.meta, scans.zoom.meta)))


def reconstruct_on(
    scan: Scan,
    grid: VolumeGrid,
    config: ProcessConfig,
    *,
    interior: bool | None = None,
    out: np.ndarray | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    filtered: FilteredProjections | None = None,
) -> VolumeWithMask:
    """FDK of ``scan`` onto ``grid`` with the configured backend (from ``filtered`` projections when given)."""
    from pipeline.reconstruct import reconstruct

    result = reconstruct(
        scan,
        grid,
        config.reconstruction,
        interior=interior,
        out=out,
        progress=progress,
        cancel=cancel,
        filtered=filtered,
    )
    projections = int(scan.line_integrals.shape[0])
    info = ReconstructionInfo(
        backend=result.backend,
        shape_zyx=grid.shape_zyx,
        projections=projections,
        seconds=round(result.seconds, 3),
        slabs=result.slabs,
        voxel_updates_per_s=grid.n_voxels * projections / max(result.seconds, 1e-9),
        interior=result.interior,
        truncation_correction=result.truncation_correction,
        short_scan=result.short_scan,
    )
    return VolumeWithMask(
        volume=result.volume, mask=result.mask, grid=result.grid, warnings=list(result.warnings), info=info
    )
