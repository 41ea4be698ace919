"""Volume scans: an already reconstructed volume instead of projections (DESIGN.md "Volume scans").

A volume scan becomes what the pipeline gets from FDK for a projection scan:
the volume on its own grid (``[z, y, x]`` float32, slice 0 at the bottom,
centred on the origin of its scan frame, which is the point
``sample_position_mm`` of the sample), a mask of the voxels that hold data,
and the :class:`~pipeline.grid.VolumeGrid`. :func:`resample_onto` puts it on
any other grid (the zoom grid in the scout frame, the output grid) with cubic
B-spline interpolation; that replaces sub-voxel FDK for a volume scout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from models.errors import InputError
from pipeline.acquisition.contract import VolumeScanMetadata, VolumeSpec
from pipeline.acquisition.volume_files import VolumeFile, read_volume_file
from pipeline.grid import VolumeGrid

METADATA = "scan.json"
VOXEL_AGREEMENT = 1e-3  # relative difference tolerated between scan.json's voxel_mm and the file's


@dataclass
class VolumeScan:
    """A loaded volume scan: metadata, ``volume`` on ``grid`` (centred at 0), ``mask`` of valid voxels."""

    meta: VolumeScanMetadata
    volume: np.ndarray
    mask: np.ndarray
    grid: VolumeGrid
    source: Path | None = None
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.volume.shape != self.grid.shape_zyx or self.mask.shape != self.grid.shape_zyx:
            raise ValueError(
                f"volume {self.volume.shape} / mask {self.mask.shape} do not match grid {self.grid.shape_zyx}"
            )

    @property
    def voxel_mm(self) -> float:
        """Mean voxel size (mm), what model matching and the resolution ratio use."""
        return self.grid.voxel_mm

    def native_grid(self) -> VolumeGrid:
        """The volume's own grid (what ``ScanMetadata.native_grid()`` is for a projection scan)."""
        return self.grid


@dataclass
class ResampledVolume:
    """A volume scan sampled on another grid: same fields as the pipeline's FDK result."""

    volume: np.ndarray
    mask: np.ndarray
    grid: VolumeGrid
    warnings: list[str] = field(default_factory=list)


def read_volume_metadata(scan_dir: Path) -> VolumeScanMetadata:
    """``scan.json`` of a volume scan; errors name the file and the field."""
    from models.errors import format_validation_error

    path = Path(scan_dir) / METADATA
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(path, f"cannot read: {error}") from None
    if not isinstance(document, dict) or document.get("data") != "volume":
        raise InputError(path, 'not a volume scan (needs "data": "volume")')
    try:
        return VolumeScanMetadata.model_validate(document)
    except ValidationError as error:
        raise InputError(path, format_validation_error(error)) from None


def resolve_voxel(
    spec: VolumeSpec, from_file: tuple[float, float, float] | None, where: Path
) -> tuple[float, float, float]:
    """Voxel size ``(z, y, x)`` mm: scan.json's and the file's must agree when both are known."""
    given = spec.voxel_zyx_mm()
    if given is None and from_file is None:
        raise InputError(where, "no voxel size: the file carries none, so scan.json volume.voxel_mm is needed")
    if given is not None and from_file is not None:
        if not np.allclose(given, from_file, rtol=VOXEL_AGREEMENT, atol=0):
            raise InputError(
                where,
                f"voxel size in the file {tuple(round(v, 6) for v in from_file)} mm disagrees with "
                f"scan.json volume.voxel_mm {given}",
            )
    return given if given is not None else from_file  # type: ignore[return-value]


def valid_mask(volume: np.ndarray) -> np.ndarray:
    """Voxels with data: finite and inside the cylinder inscribed in the slice (what a circular orbit reconstructs)."""
    nz, ny, nx = volume.shape
    y = (np.arange(ny) - (ny - 1) / 2.0) / (ny / 2.0)
    x = (np.arange(nx) - (nx - 1) / 2.0) / (nx / 2.0)
    disc = (y[:, None] ** 2 + x[None, :] ** 2) <= 1.0
    return np.isfinite(volume) & disc[None, :, :]


def volume_scan_from(meta: VolumeScanMetadata, stored: VolumeFile, where: Path) -> VolumeScan:
    """Turn a stored volume into a :class:`VolumeScan`: slice order, voxel size, float32, mask."""
    voxel_zyx = resolve_voxel(meta.volume, stored.voxel_zyx_mm, where)
    data = stored.data[::-1] if meta.volume.slice_order == "top_down" else stored.data
    volume = np.ascontiguousarray(data, dtype=np.float32)
    mask = valid_mask(volume)
    if not mask.any():
        raise InputError(where, "the volume holds no finite voxels")
    volume[~np.isfinite(volume)] = 0.0
    grid = VolumeGrid(shape_zyx=volume.shape, spacing_mm=(voxel_zyx[2], voxel_zyx[1], voxel_zyx[0]))
    meta = meta.model_copy(update={"volume": meta.volume.model_copy(update={"voxel_mm": tuple(voxel_zyx)})})
    return VolumeScan(meta=meta, volume=volume, mask=mask, grid=grid, source=where, warnings=list(stored.warnings))


def read_volume_scan(scan_dir: Path) -> VolumeScan:
    """Read a volume scan directory (``scan.json`` with ``"data": "volume"`` and its ``volume.file``)."""
    scan_dir = Path(scan_dir)
    meta = read_volume_metadata(scan_dir)
    path = scan_dir / meta.volume.file
    return volume_scan_from(meta, read_volume_file(path), path)


def resample_onto(
    scan: VolumeScan, grid: VolumeGrid, *, out: np.ndarray | None = None, slab_z: int = 16
) -> ResampledVolume:
    """``scan`` sampled at the voxel centres of ``grid`` (same frame: the scan's own), cubic B-spline.

    What FDK onto ``grid`` gives for a projection scan: float32 values (into
    ``out`` when given, e.g. a scratch memmap, slab by slab) and a mask that is
    the scan's mask at the nearest source voxel, False where a point falls
    outside the stored volume (there the value is the nearest edge value).
    The grid may be rotated and anisotropic (a registered zoom grid). On the
    scan's own grid the volume is returned as it is.
    """
    from scipy import ndimage

    if out is not None and tuple(out.shape) != tuple(grid.shape_zyx):
        raise ValueError(f"out has shape {out.shape}, grid {grid.shape_zyx}")
    if grid == scan.grid:
        volume = scan.volume if out is None else out
        if out is not None:
            out[...] = scan.volume
        return ResampledVolume(volume=volume, mask=scan.mask.copy(), grid=grid, warnings=[])
    coefficients = ndimage.spline_filter(scan.volume.astype(np.float64), order=3, mode="nearest")
    volume = np.empty(grid.shape_zyx, np.float32) if out is None else out
    nz, ny, nx = grid.shape_zyx
    mask = np.zeros(grid.shape_zyx, dtype=bool)
    j, i = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    limits = np.asarray(scan.grid.shape_xyz) - 1
    for z0 in range(0, nz, slab_z):
        z1 = min(nz, z0 + slab_z)
        k = np.broadcast_to(np.arange(z0, z1)[:, None, None], (z1 - z0, ny, nx))
        index = np.stack([np.broadcast_to(i, k.shape), np.broadcast_to(j, k.shape), k], axis=-1)
        source = scan.grid.physical_to_index(grid.index_to_physical(index))  # fractional (x, y, z)
        coords = np.moveaxis(source[..., ::-1], -1, 0)  # (z, y, x) order for map_coordinates
        volume[z0:z1] = ndimage.map_coordinates(coefficients, coords, order=3, mode="nearest", prefilter=False)
        inside = np.all((source >= -0.5) & (source <= limits + 0.5), axis=-1)
        nearest = np.clip(np.rint(source).astype(np.int64), 0, limits)
        mask[z0:z1] = inside & scan.mask[nearest[..., 2], nearest[..., 1], nearest[..., 0]]
    return ResampledVolume(volume=volume, mask=mask, grid=grid, warnings=[])
