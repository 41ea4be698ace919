"""The geometric stages of one pair: read, reconstruct, register, place the output.

Each function does one stage on typed inputs and returns typed results; the
orchestration lives in :mod:`pipeline.pair.run` and :mod:`pipeline.pair.process`.
A scan is projections (:class:`Scan`, reconstructed by FDK) or an already
reconstructed volume (:class:`VolumeScan`, DESIGN.md "Volume scans"), which
:func:`reconstruct_on` resamples onto the grid asked for (cubic B-spline)
instead; either kind may be the scout or the zoom.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.errors import InputError
from models.events import CancelToken, ProgressCallback
from pipeline.acquisition.contract import pair_offset_mm
from pipeline.acquisition.scan import Scan
from pipeline.acquisition.volume import VolumeScan
from pipeline.config import ProcessConfig
from pipeline.grid import VolumeGrid
from pipeline.pair.report import ReconstructionInfo
from pipeline.pair.sources import PairSources
from pipeline.reconstruct.filtered import FilteredProjections

AnyScan = Scan | VolumeScan
RESAMPLED = "resampled-bspline"  # ReconstructionInfo.backend of a volume scan put on a grid (report.json says so)


@dataclass
class PairScans:
    scout: AnyScan
    zoom: AnyScan


@dataclass
class VolumeWithMask:
    """A reconstructed volume ``[z, y, x]`` (1/mm) on ``grid`` with its reconstructable region, and how it was made."""

    volume: np.ndarray
    mask: np.ndarray
    grid: VolumeGrid
    warnings: list[str]
    info: ReconstructionInfo | None = None


def prefilter(scan: AnyScan, config: ProcessConfig, work_dir: Path, name: str) -> FilteredProjections | None:
    """The scan's projections weighted and ramp-filtered once (a scratch memmap), for every grid it is reconstructed
    on, when the configured backend can start from them (the numba CPU backend); None otherwise."""
    from pipeline.output.volumes import scratch_volume
    from pipeline.reconstruct import filter_scan
    from pipeline.reconstruct.backends import make_backend
    from pipeline.reconstruct.backends.base import PrefilteredBackend

    if isinstance(scan, VolumeScan):
        return None
    backend = make_backend(config.reconstruction.backend, config.reconstruction.cpu_threads)
    if not isinstance(backend, PrefilteredBackend):
        return None
    out = scratch_volume(work_dir / f"{name}_filtered.npy", tuple(scan.line_integrals.shape))  # type: ignore[arg-type]
    return filter_scan(scan, config.reconstruction, interior=None, out=out)  # truncation detected as reconstruct() does


def read_scan_source(path: Path, role: str) -> AnyScan:
    """One scan of a pair, in any supported format (contract v1 folder, ZEISS .txrm/.txm, Nikon .xtekct, NXtomo,
    a volume file or volume scan folder): projections as line integrals, or a volume; raises InputError naming the
    file and the problem."""
    from pipeline.acquisition.formats.registry import detect, read_any

    source = detect(path)
    if source is None:
        raise InputError(
            path,
            "no scan here: expected scan.json (contract v1), a .txrm, a .txm, an .xtekct, an "
            "NXtomo file or a volume file",
        )
    return read_any(source, role=role)  # type: ignore[arg-type]


def read_pair(pair: Path | PairSources) -> PairScans:
    """Both scans of a pair folder or of two given sources (raises InputError naming the file)."""
    sources = pair if isinstance(pair, PairSources) else PairSources.from_folder(Path(pair))
    return PairScans(scout=read_scan_source(sources.scout, "scout"), zoom=read_scan_source(sources.zoom, "zoom"))


def native_grid(scan: AnyScan) -> VolumeGrid:
    """A scan's own grid: the projections' field of view at their voxel size, or the stored volume's grid; both
    centred on the origin of the scan frame."""
    return scan.native_grid() if isinstance(scan, VolumeScan) else scan.meta.native_grid()


def field_of_view_mm(scan: AnyScan) -> tuple[float, float, float]:
    """The extent ``(x, y, z)`` mm a scan covers: the field-of-view cylinder's bounding box, or the volume's box
    (the output region's default size)."""
    if isinstance(scan, VolumeScan):
        grid = scan.grid
        return tuple(float(n * d) for n, d in zip(grid.shape_xyz, grid.spacing_mm, strict=True))  # type: ignore[return-value]
    radius = scan.meta.geometry.field_of_view_radius_mm()
    return (2 * radius, 2 * radius, scan.meta.geometry.field_of_view_height_mm())


def zoom_native_grid(zoom: AnyScan) -> VolumeGrid:
    """The zoom's own grid: its field of view at its voxel size (or its stored volume's), centred on its axis."""
    return native_grid(zoom)


def scout_box_grid(scans: PairScans, zoom_grid: VolumeGrid) -> VolumeGrid:
    """The zoom's grid placed in the scout frame by the stage prior (sample positions)."""
    return zoom_grid.with_centre(tuple(float(v) for v in pair_offset_mm(scans.scout.meta, scans.zoom.meta)))


def reconstruct_on(
    scan: AnyScan,
    grid: VolumeGrid,
    config: ProcessConfig,
    *,
    interior: bool | None = None,
    out: np.ndarray | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    filtered: FilteredProjections | None = None,
) -> VolumeWithMask:
    """The scan's values on ``grid`` (1/mm): FDK of projections with the configured backend (from ``filtered``
    projections when given), or a volume scan resampled (cubic B-spline, :func:`resample_volume_on`)."""
    from pipeline.reconstruct import reconstruct

    if isinstance(scan, VolumeScan):
        return resample_volume_on(scan, grid, out=out, cancel=cancel)
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


def resample_volume_on(
    scan: VolumeScan, grid: VolumeGrid, *, out: np.ndarray | None = None, cancel: CancelToken | None = None
) -> VolumeWithMask:
    """A volume scan on ``grid`` (its own frame): cubic B-spline resampling stands in for FDK (no sub-voxel
    reconstruction is possible from a volume); ``info.backend`` is ``resampled-bspline`` (``projections`` 0)."""
    import time

    from pipeline.acquisition.volume import resample_onto

    if cancel is not None:
        cancel.raise_if_cancelled("resample")
    started = time.perf_counter()
    result = resample_onto(scan, grid, out=out)
    seconds = time.perf_counter() - started
    info = ReconstructionInfo(
        backend=RESAMPLED,
        shape_zyx=grid.shape_zyx,
        projections=0,
        seconds=round(seconds, 3),
        slabs=1,
        voxel_updates_per_s=grid.n_voxels / max(seconds, 1e-9),
        interior=False,
        truncation_correction=0.0,
        short_scan=False,
    )
    return VolumeWithMask(
        volume=result.volume, mask=result.mask, grid=result.grid, warnings=list(result.warnings), info=info
    )
