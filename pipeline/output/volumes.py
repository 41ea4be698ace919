"""Volumes on disk: OME-TIFF outputs (written slice by slice) and scratch memmaps.

OME-TIFF carries the physical voxel size (``PhysicalSize*``, mm) and the
position of every plane (``Plane/Position*``: the centre of voxel ``[z, 0, 0]``
in the scout frame, mm), which Fiji (Bio-Formats), tifffile and OME-aware
napari readers read (napari's built-in TIFF reader ignores it). The voxel
values' unit (``1/mm``: linear attenuation, since projections are line
integrals over mm) is an OME ``MapAnnotation`` and in the description JSON,
and every page's TIFF resolution tags hold the in-plane pixel pitch
(pixels per centimetre) for readers that know no OME. The full grid (including
a registration rotation, which OME cannot express) is stored as JSON in the
image description.

Files are zlib (Adobe Deflate) compressed, which every TIFF reader decodes, and
BigTIFF once the raw data approach the 4 GB offsets of classic TIFF (from
2 GiB less headroom, since incompressible planes can grow slightly). A
``uint16`` file stores counts; its linear scale (``value = stored * scale +
offset``) is in the description JSON and the MapAnnotation
(:func:`read_value_scale`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tifffile

from models.atomic import atomic_path
from models.errors import InputError
from pipeline.grid import VolumeGrid
from pipeline.output.quantise import LinearScale

BIGTIFF_FROM_BYTES = 2**31 - 2**27
COMPRESSION = "zlib"
COMPRESSION_LEVEL = 1  # fast: noisy float data gain little from higher levels
VALUE_UNIT = "1/mm"  # FDK of line integrals (-ln I/I0) on a mm geometry: linear attenuation coefficient
ANNOTATION_NAMESPACE = "scoutzoom"


def _ome_metadata(grid: VolumeGrid, name: str, value_unit: str, value_scale: LinearScale | None = None) -> dict:
    nz = grid.shape_zyx[0]
    planes = grid.index_to_physical(np.stack([np.zeros(nz), np.zeros(nz), np.arange(nz)], axis=-1))
    scale_json = {} if value_scale is None else {"value_scale": value_scale.model_dump(mode="json")}
    description = json.dumps(
        {
            "scoutzoom_grid": grid.model_dump(mode="json"),
            "frame": "scout",
            "units": "mm",
            "length_unit": "mm",
            "value_unit": value_unit,
            **scale_json,
        }
    )
    annotation = {"value_unit": value_unit, "length_unit": "mm", "frame": "scout"}
    if value_scale is not None:
        annotation |= {
            "value_scale": repr(value_scale.scale),
            "value_offset": repr(value_scale.offset),
            "value_formula": "value = stored * value_scale + value_offset",
        }
    return {
        "axes": "ZYX",
        "Name": name,
        "Description": description,
        "PhysicalSizeX": grid.spacing_mm[0],
        "PhysicalSizeXUnit": "mm",
        "PhysicalSizeY": grid.spacing_mm[1],
        "PhysicalSizeYUnit": "mm",
        "PhysicalSizeZ": grid.spacing_mm[2],
        "PhysicalSizeZUnit": "mm",
        "Plane": {
            "PositionX": [float(p[0]) for p in planes],
            "PositionXUnit": ["mm"] * nz,
            "PositionY": [float(p[1]) for p in planes],
            "PositionYUnit": ["mm"] * nz,
            "PositionZ": [float(p[2]) for p in planes],
            "PositionZUnit": ["mm"] * nz,
        },
        "StructuredAnnotations": {
            "MapAnnotation": {
                "Namespace": ANNOTATION_NAMESPACE,
                "Value": annotation,
            }
        },
    }


def _resolution_tags(grid: VolumeGrid) -> dict:
    """TIFF XResolution/YResolution (pixels per cm) and ResolutionUnit CENTIMETER from the in-plane pitch."""
    return {"resolution": (10.0 / grid.spacing_mm[0], 10.0 / grid.spacing_mm[1]), "resolutionunit": "CENTIMETER"}


def write_ome_tiff(
    path: Path,
    volume: np.ndarray,
    grid: VolumeGrid,
    *,
    name: str = "scoutzoom",
    value_unit: str = VALUE_UNIT,
    value_scale: LinearScale | None = None,
) -> None:
    """Write ``volume`` ([z, y, x], any array-like incl. memmaps) atomically, one z-slice in memory at a time.

    ``value_unit`` is the unit of the voxel values (1/mm for reconstructions; a volume scan's own ``units``);
    with ``value_scale`` the planes are stored as its uint16 counts.
    """
    if tuple(volume.shape) != tuple(grid.shape_zyx):
        raise ValueError(f"volume shape {volume.shape} does not match grid {grid.shape_zyx}")
    if value_scale is not None:
        dtype = np.dtype(np.uint16)
    else:
        dtype = np.dtype(np.float32) if volume.dtype.kind == "f" else volume.dtype

    def planes() -> Iterator[np.ndarray]:
        for z in range(volume.shape[0]):
            plane = volume[z] if value_scale is None else value_scale.encode(volume[z])
            yield np.ascontiguousarray(plane, dtype=dtype)

    nbytes = int(np.prod(volume.shape)) * dtype.itemsize
    with atomic_path(Path(path)) as tmp:
        tifffile.imwrite(
            tmp,
            planes(),
            shape=tuple(volume.shape),
            dtype=dtype,
            ome=True,
            bigtiff=nbytes >= BIGTIFF_FROM_BYTES,
            compression=COMPRESSION,
            compressionargs={"level": COMPRESSION_LEVEL},
            metadata=_ome_metadata(grid, name, value_unit, value_scale),
            **_resolution_tags(grid),
        )


def read_ome_grid(path: Path) -> VolumeGrid:
    """The grid stored by :func:`write_ome_tiff`."""
    with tifffile.TiffFile(path) as tif:
        xml = tif.ome_metadata or ""
    start = xml.find("<Description>")
    end = xml.find("</Description>")
    if start < 0 or end < 0:
        raise InputError(path, "no scoutzoom grid in the OME description")
    import html

    document = json.loads(html.unescape(xml[start + len("<Description>") : end]))
    return VolumeGrid.model_validate(document["scoutzoom_grid"])


def _description(path: Path) -> dict:
    """The scoutzoom JSON of the OME description (empty if there is none)."""
    import html

    with tifffile.TiffFile(path) as tif:
        xml = tif.ome_metadata or ""
    start = xml.find("<Description>")
    end = xml.find("</Description>")
    if start < 0 or end < 0:
        return {}
    return json.loads(html.unescape(xml[start + len("<Description>") : end]))


def read_value_unit(path: Path) -> str | None:
    """The voxel values' unit stored by :func:`write_ome_tiff` (None for files written before it was stored)."""
    return _description(path).get("value_unit")


def read_value_scale(path: Path) -> LinearScale | None:
    """The linear scale of a uint16 file written by :func:`write_ome_tiff` (None for float32 files)."""
    document = _description(path).get("value_scale")
    return None if document is None else LinearScale.model_validate(document)


def scratch_volume(
    path: Path, shape_zyx: tuple[int, int, int], dtype: str = "float32", *, reuse: bool = False
) -> np.ndarray:
    """A zero-filled on-disk array (``.npy`` memmap) for volumes too big for memory; with ``reuse``, an existing
    file of the same shape and dtype is reopened as it is (an interrupted inference resumes into it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if reuse and path.exists():
        try:
            existing = np.load(path, mmap_mode="r+")
        except (ValueError, OSError):
            existing = None
        if existing is not None and existing.shape == tuple(shape_zyx) and existing.dtype == np.dtype(dtype):
            return existing
    return np.lib.format.open_memmap(path, mode="w+", dtype=np.dtype(dtype), shape=tuple(shape_zyx))
