"""The recovered volume as OME-Zarr (NGFF 0.4), written slab by slab as inference produces it.

Level 0 is a zarr array chunked by a few z slices (readers pull whole slices)
and compressed (Blosc zstd, bit shuffle); inference writes into it directly, so
no full copy of the volume exists in memory or in scratch. When it is complete,
coarser levels (2x2x2 mean pooling) are built from the level below, one slab of
chunks at a time, so memory stays bounded at any size. The multiscales metadata
carries the physical scale and translation (mm; NGFF axes z, y, x; the scout
frame), the attributes the full grid (a registration rotation, which NGFF 0.4
cannot express), the provenance and the value unit; the reconstructable-region
mask is a label image (``labels/mask``). The folder is written under a
temporary name and renamed into place when finished.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.grid import VolumeGrid

NGFF_VERSION = "0.4"
AXES = [
    {"name": "z", "type": "space", "unit": "millimeter"},
    {"name": "y", "type": "space", "unit": "millimeter"},
    {"name": "x", "type": "space", "unit": "millimeter"},
]
MIN_LEVEL_SIDE_PX = 32  # no pyramid level with an axis shorter than this


def pyramid_levels(shape_zyx: tuple[int, int, int], wanted: int | None = None) -> int:
    """Levels to write: ``wanted``, or (``None``) halvings until the shortest in-plane side would fall under 32 px; at
    least 1."""
    levels = 1
    side = min(shape_zyx[1], shape_zyx[2])
    while (wanted is None or levels < wanted) and side // 2**levels >= MIN_LEVEL_SIDE_PX:
        levels += 1
    return levels if wanted is None else min(levels, max(1, wanted))


def _level_transforms(grid: VolumeGrid, level: int) -> list[dict[str, Any]]:
    """NGFF scale and translation (z, y, x; mm) of pyramid ``level`` (each level halves every axis by mean pooling)."""
    factor = 2**level
    spacing_zyx = np.asarray(grid.spacing_mm[::-1], float)
    origin_zyx = np.asarray(grid.origin_mm[::-1], float) + (factor - 1) / 2.0 * spacing_zyx
    return [
        {"type": "scale", "scale": (spacing_zyx * factor).tolist()},
        {"type": "translation", "translation": origin_zyx.tolist()},
    ]


def _compressor():
    from numcodecs import Blosc

    return Blosc(cname="zstd", clevel=3, shuffle=Blosc.BITSHUFFLE)


def _downsample(block: np.ndarray) -> np.ndarray:
    """2x2x2 mean pooling (odd trailing planes pooled with what is there)."""
    from skimage.transform import downscale_local_mean

    return downscale_local_mean(np.asarray(block, np.float32), (2, 2, 2)).astype(np.float32)


class OmeZarrVolume:
    """An OME-Zarr volume being written: array-like for ``infer_volume`` (``shape``, ``dtype``, slab assignment,
    slab reading), then :meth:`finish` builds the pyramid, the mask label and the metadata and moves it into place."""

    def __init__(
        self,
        target: Path,
        grid: VolumeGrid,
        *,
        chunk_z: int = 8,
        levels: int | None = None,
        name: str = "recovered",
        temporary_dir: Path | None = None,
    ) -> None:
        """``target``: the final folder; it is written as a hidden folder in ``temporary_dir`` (default: beside
        ``target``; it must be on the same file system) until :meth:`finish`."""
        import zarr

        self.target = Path(target)
        self.grid = grid
        self.name = name
        self.temporary = Path(temporary_dir or self.target.parent) / f".{self.target.name}.tmp-{os.getpid()}"
        self.temporary.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.temporary, ignore_errors=True)
        self.root = zarr.open_group(str(self.temporary), mode="w", zarr_format=2)
        self.levels = pyramid_levels(grid.shape_zyx, levels)
        self.chunk_z = max(1, chunk_z)
        self.chunks = (self.chunk_z, *grid.shape_zyx[1:])
        self.level0 = self.root.create_array(
            "0", shape=grid.shape_zyx, chunks=self.chunks, dtype="float32", compressors=_compressor(), fill_value=0.0
        )

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.grid.shape_zyx

    @property
    def dtype(self) -> np.dtype:
        return np.dtype("float32")

    def __setitem__(self, key: Any, value: np.ndarray) -> None:
        self.level0[key] = value

    def __getitem__(self, key: Any) -> np.ndarray:
        return np.asarray(self.level0[key])

    def __len__(self) -> int:
        return self.grid.shape_zyx[0]

    def _build_level(self, level: int) -> None:
        """Level ``level`` from ``level - 1``, a slab of ``2 * chunk_z`` source planes at a time."""
        source = self.root[str(level - 1)]
        shape = tuple(max(1, -(-n // 2)) for n in source.shape)
        dest = self.root.create_array(
            str(level),
            shape=shape,
            chunks=(self.chunk_z, *shape[1:]),
            dtype="float32",
            compressors=_compressor(),
            fill_value=0.0,
        )
        step = 2 * self.chunk_z
        for z0 in range(0, source.shape[0], step):
            block = _downsample(np.asarray(source[z0 : z0 + step]))
            dest[z0 // 2 : z0 // 2 + block.shape[0]] = block[: shape[0] - z0 // 2]

    def _write_mask(self, mask: Any) -> None:
        """The reconstructable region as ``labels/mask`` (uint8, 1 inside), one level, same grid as level 0."""
        from ome_zarr.format import FormatV04
        from ome_zarr.writer import write_label_metadata, write_multiscales_metadata

        labels = self.root.create_group("labels")
        labels.attrs["labels"] = ["mask"]
        group = labels.create_group("mask")
        array = group.create_array(
            "0", shape=self.grid.shape_zyx, chunks=self.chunks, dtype="uint8", compressors=_compressor(), fill_value=0
        )
        for z0 in range(0, self.grid.shape_zyx[0], self.chunk_z):
            array[z0 : z0 + self.chunk_z] = np.asarray(mask[z0 : z0 + self.chunk_z]).astype(np.uint8)
        write_multiscales_metadata(
            group,
            [{"path": "0", "coordinateTransformations": _level_transforms(self.grid, 0)}],
            fmt=FormatV04(),
            axes=AXES,
            name="mask",
        )
        write_label_metadata(labels, "mask", colors=[{"label-value": 1, "rgba": [255, 255, 0, 96]}], fmt=FormatV04())

    def finish(self, *, mask: Any | None = None, attributes: dict[str, Any] | None = None) -> Path:
        """Pyramid, mask label, metadata; then rename into ``target`` (replacing an earlier result)."""
        from ome_zarr.format import FormatV04
        from ome_zarr.writer import write_multiscales_metadata

        for level in range(1, self.levels):
            self._build_level(level)
        datasets = [
            {"path": str(level), "coordinateTransformations": _level_transforms(self.grid, level)}
            for level in range(self.levels)
        ]
        write_multiscales_metadata(self.root, datasets, fmt=FormatV04(), axes=AXES, name=self.name)
        self.root.attrs["scoutzoom"] = {
            "grid": self.grid.model_dump(mode="json"),
            "frame": "scout",
            "length_unit": "mm",
            **(attributes or {}),
        }
        if mask is not None:
            self._write_mask(mask)
        if self.target.exists():
            shutil.rmtree(self.target)
        os.replace(self.temporary, self.target)
        return self.target

    def discard(self) -> None:
        shutil.rmtree(self.temporary, ignore_errors=True)
