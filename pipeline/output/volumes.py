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

BIGTIFF_FROM_BYTES = 2**31
VALUE_UNIT = "1/mm"  # FDK of line integrals (-ln I/I0) on a mm geometry: linear attenuation coefficient
ANNOTATION_NAMESPACE = "scoutzoom"


def _ome_metadata(grid: VolumeGrid, name: str, value_unit: str) -> dict:
    nz = grid.shape_zyx[0]
    planes = grid.index_to_physical(np.stack([np.zeros(nz), np.zeros(nz), np.arange(nz)], axis=-1))
    description = json.dumps(
        {
            "scoutzoom_grid": grid.model_dump(mode="json"),
            "frame": "scout",
            "units": "mm",
            "length_unit": "mm",
            "value_unit": value_unit,
        }
    )
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
                "Value": {"value_unit": value_unit, "length_unit": "mm", "frame": "scout"},
            }
        },
    }


def _resolution_tags(grid: VolumeGrid) -> dict:
    """TIFF XResolution/YResolution (pixels per cm) and ResolutionUnit CENTIMETER from the in-plane pitch."""
    return {"resolution": (10.0 / grid.spacing_mm[0], 10.0 / grid.spacing_mm[1]), "resolutionunit": "CENTIMETER"}


def write_ome_tiff(
    path: Path, volume: np.ndarray, grid: VolumeGrid, *, name: str = "scoutzoom", value_unit: str = VALUE_UNIT
) -> None:
    """Write ``volume`` ([z, y, x], any array-like incl. memmaps) atomically, one z-slice in memory at a time.

    ``value_unit`` is the unit of the voxel values (1/mm for reconstructions; a volume scan's own ``units``).
    """
    if tuple(volume.shape) != tuple(grid.shape_zyx):
        raise ValueError(f"volume shape {volume.shape} does not match grid {grid.shape_zyx}")
    dtype = np.dtype(np.float32) if volume.dtype.kind == "f" else volume.dtype

    def planes() -> Iterator[np.ndarray]:
        for z in range(volume.shape[0]):
            yield np.ascontiguousarray(volume[z], dtype=dtype)

    nbytes = int(np.prod(volume.shape)) * dtype.itemsize
    with atomic_path(Path(path)) as tmp:
        tifffile.imwrite(
            tmp,
            planes(),
            shape=tuple(volume.shape),
            dtype=dtype,
            ome=True,
            bigtiff=nbytes >= BIGTIFF_FROM_BYTES,
            metadata=_ome_metadata(grid, name, value_unit),
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


def read_value_unit(path: Path) -> str | None:
    """The voxel values' unit stored by :func:`write_ome_tiff` (None for files written before it was stored)."""
    import html

    with tifffile.TiffFile(path) as tif:
        xml = tif.ome_metadata or ""
    start = xml.find("<Description>")
    end = xml.find("</Description>")
    if start < 0 or end < 0:
        return None
    return json.loads(html.unescape(xml[start + len("<Description>") : end])).get("value_unit")


def scratch_volume(path: Path, shape_zyx: tuple[int, int, int], dtype: str = "float32") -> np.ndarray:
    """A zero-filled on-disk array (``.npy`` memmap) for volumes too big for memory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return np.lib.format.open_memmap(path, mode="w+", dtype=np.dtype(dtype), shape=tuple(shape_zyx))
