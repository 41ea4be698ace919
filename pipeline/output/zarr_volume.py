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

Inference always writes float32; with a ``uint16`` scale (:mod:`pipeline.output.quantise`) every level is
encoded when finishing, and the scale (``value = stored * scale + offset``) goes into the attributes. With
``resume=True`` the temporary name is fixed (``.<name>.partial``) and an existing partial folder of the
same shape and chunks is reopened, so inference can continue from the slabs its ledger
(:meth:`OmeZarrVolume.ledger`, a hidden JSON file inside the folder, removed when finishing) records.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.grid import VolumeGrid
from pipeline.infer.resume import SlabLedger
from pipeline.output.quantise import LinearScale

NGFF_VERSION = "0.4"
AXES = [
    {"name": "z", "type": "space", "unit": "millimeter"},
    {"name": "y", "type": "space", "unit": "millimeter"},
    {"name": "x", "type": "space", "unit": "millimeter"},
]
MIN_LEVEL_SIDE_PX = 32  # no pyramid level with an axis shorter than this
PROGRESS_FILE = ".scoutzoom-progress.json"
PARTIAL_SUFFIX = ".partial"


def partial_folder(target: Path, temporary_dir: Path | None = None) -> Path:
    """Where ``OmeZarrVolume(target, ..., resume=True)`` keeps its unfinished folder (hidden, fixed name)."""
    return Path(temporary_dir or Path(target).parent) / f".{Path(target).name}{PARTIAL_SUFFIX}"


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
        resume: bool = False,
        must_exist: bool = False,
    ) -> None:
        """``target``: the final folder; it is written as a hidden folder in ``temporary_dir`` (default: beside
        ``target``; it must be on the same file system) until :meth:`finish`. ``resume``: reopen a partial
        folder left by an interrupted run (see module docstring). ``must_exist`` (with ``resume``): only attach to
        the partial folder another process created (a worker writing its block), never create or clear it."""
        import zarr

        self.target = Path(target)
        self.grid = grid
        self.name = name
        if resume:
            self.temporary = partial_folder(self.target, temporary_dir)
        else:
            self.temporary = Path(temporary_dir or self.target.parent) / f".{self.target.name}.tmp-{os.getpid()}"
        self.temporary.parent.mkdir(parents=True, exist_ok=True)
        self.levels = pyramid_levels(grid.shape_zyx, levels)
        self.chunk_z = max(1, chunk_z)
        self.chunks = (self.chunk_z, *grid.shape_zyx[1:])
        self.value_scale: LinearScale | None = None
        self.resumed = resume and self._reopen()
        if must_exist and not self.resumed:
            raise FileNotFoundError(
                f"no partial OME-Zarr of shape {grid.shape_zyx}, chunks {self.chunks} at {self.temporary}"
            )
        if not self.resumed:
            shutil.rmtree(self.temporary, ignore_errors=True)
            self.root = zarr.open_group(str(self.temporary), mode="w", zarr_format=2)
            self.level0 = self.root.create_array(
                "0",
                shape=grid.shape_zyx,
                chunks=self.chunks,
                dtype="float32",
                compressors=_compressor(),
                fill_value=0.0,
            )

    def _reopen(self) -> bool:
        """Open an existing partial folder whose level 0 matches this volume's shape and chunks."""
        import zarr

        try:
            root = zarr.open_group(str(self.temporary), mode="r+", zarr_format=2)
            level0 = root["0"]
        except (FileNotFoundError, KeyError, ValueError, OSError):
            return False
        if tuple(level0.shape) != tuple(self.grid.shape_zyx) or tuple(level0.chunks) != self.chunks:
            return False
        if np.dtype(level0.dtype) != np.float32:
            return False
        self.root, self.level0 = root, level0
        return True

    def ledger(self, fingerprint: str, block: tuple[int, int] | None = None) -> SlabLedger:
        """The slab ledger of this folder for the job ``fingerprint`` (see :mod:`pipeline.infer.resume`); with
        ``block`` ``(z0, z1)``, that block's own ledger (workers writing blocks never share a ledger file)."""
        name = PROGRESS_FILE if block is None else PROGRESS_FILE.replace(".json", f"-z{block[0]}-{block[1]}.json")
        return SlabLedger(self.temporary / name, fingerprint)

    def flush(self) -> None:
        """Nothing to do: every slab assignment has written its chunk files when it returns."""

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.grid.shape_zyx

    @property
    def dtype(self) -> np.dtype:
        """What inference writes (float32; a uint16 output is encoded by :meth:`finish`)."""
        return np.dtype("float32")

    def __setitem__(self, key: Any, value: np.ndarray) -> None:
        self.level0[key] = value

    def __getitem__(self, key: Any) -> np.ndarray:
        """Values (float32; decoded from the stored counts once a uint16 volume is finished)."""
        stored = np.asarray(self.level0[key])
        return stored if self.value_scale is None else self.value_scale.decode(stored)

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

    def _encode_level(self, level: int, scale: LinearScale) -> None:
        """Replace float32 level ``level`` by its uint16 counts, ``chunk_z`` slices at a time."""
        source = self.root[str(level)]
        encoded = self.root.create_array(
            f"{level}.uint16",
            shape=source.shape,
            chunks=source.chunks,
            dtype="uint16",
            compressors=_compressor(),
            fill_value=0,
        )
        for z0 in range(0, source.shape[0], self.chunk_z):
            encoded[z0 : z0 + self.chunk_z] = scale.encode(source[z0 : z0 + self.chunk_z])
        shutil.rmtree(self.temporary / str(level))
        os.replace(self.temporary / f"{level}.uint16", self.temporary / str(level))

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

    def _clear_finish_leftovers(self) -> None:
        """Remove what an earlier, interrupted :meth:`finish` of a resumed folder built (pyramid levels, a uint16
        copy, the mask label): only level 0 and the ledgers are kept, so finishing again starts clean."""
        import zarr

        stale = [p for p in self.temporary.iterdir() if p.is_dir() and p.name != "0" and not p.name.startswith(".")]
        for path in stale:
            shutil.rmtree(path)
        if stale:
            self.root = zarr.open_group(str(self.temporary), mode="r+", zarr_format=2)
            self.level0 = self.root["0"]

    def finish(
        self,
        *,
        mask: Any | None = None,
        attributes: dict[str, Any] | None = None,
        value_scale: LinearScale | None = None,
    ) -> Path:
        """Pyramid, ``uint16`` encoding (with ``value_scale``), mask label, metadata; then rename into ``target``
        (replacing an earlier result)."""
        import zarr
        from ome_zarr.format import FormatV04
        from ome_zarr.writer import write_multiscales_metadata

        self._clear_finish_leftovers()
        for level in range(1, self.levels):
            self._build_level(level)
        if value_scale is not None:
            for level in range(self.levels):
                self._encode_level(level, value_scale)
            self.root = zarr.open_group(str(self.temporary), mode="r+", zarr_format=2)
            self.level0 = self.root["0"]
        datasets = [
            {"path": str(level), "coordinateTransformations": _level_transforms(self.grid, level)}
            for level in range(self.levels)
        ]
        write_multiscales_metadata(self.root, datasets, fmt=FormatV04(), axes=AXES, name=self.name)
        self.root.attrs["scoutzoom"] = {
            "grid": self.grid.model_dump(mode="json"),
            "frame": "scout",
            "length_unit": "mm",
            "dtype": "float32" if value_scale is None else value_scale.dtype,
            **({} if value_scale is None else {"value_scale": value_scale.model_dump(mode="json")}),
            **(attributes or {}),
        }
        if mask is not None:
            self._write_mask(mask)
        for ledger in self.temporary.glob(PROGRESS_FILE.replace(".json", "*.json")):
            ledger.unlink(missing_ok=True)
        if self.target.exists():
            shutil.rmtree(self.target)
        os.replace(self.temporary, self.target)
        self.root = zarr.open_group(str(self.target), mode="r", zarr_format=2)  # later reads (previews) see the result
        self.level0, self.value_scale = self.root["0"], value_scale
        return self.target

    def discard(self) -> None:
        shutil.rmtree(self.temporary, ignore_errors=True)
