"""Write scans in contract v1 (used by the simulator and tests; a scanner would do the same)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import tifffile

from models.atomic import atomic_path, write_text_atomic
from pipeline.acquisition import layout as names
from pipeline.acquisition.contract import ScanMetadata

ALLOWED_DTYPES = (np.dtype(np.uint16), np.dtype(np.float32))


def _checked(array: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype not in ALLOWED_DTYPES:
        raise ValueError(f"{what} must be uint16 or float32 (got {array.dtype})")
    return array


def write_metadata(scan_dir: Path, meta: ScanMetadata) -> None:
    """Write ``scan.json`` atomically (unknown keys included)."""
    write_text_atomic(Path(scan_dir) / names.METADATA, meta.model_dump_json(indent=2, exclude_none=True) + "\n")


def write_tiff(path: Path, data: np.ndarray) -> None:
    """Write one TIFF atomically (one page per leading index for 3-D data)."""
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, data, photometric="minisblack", bigtiff=data.nbytes > 2**31)


def write_projection(scan_dir: Path, index: int, projection: np.ndarray) -> None:
    """Write one numbered projection file ``proj_NNNNN.tif`` atomically."""
    write_tiff(Path(scan_dir) / names.projection_name(index), _checked(projection, "projection"))


def write_scan(
    scan_dir: Path,
    meta: ScanMetadata,
    projections: np.ndarray,
    *,
    flat: np.ndarray | None = None,
    dark: np.ndarray | None = None,
    layout: Literal["stack", "files"] = "stack",
) -> None:
    """Write a whole scan: projections ``[angle, row, column]``, optional flat/dark, then ``scan.json``."""
    scan_dir = Path(scan_dir)
    scan_dir.mkdir(parents=True, exist_ok=True)
    projections = _checked(projections, "projections")
    expected = (meta.geometry.n_angles, *meta.geometry.detector_shape)
    if projections.shape != expected:
        raise ValueError(f"projections have shape {projections.shape}, metadata says {expected}")
    if flat is not None:
        write_tiff(scan_dir / names.FLAT, _checked(flat, "flat"))
    if dark is not None:
        write_tiff(scan_dir / names.DARK, _checked(dark, "dark"))
    if layout == "stack":
        write_tiff(scan_dir / names.STACK, projections)
    else:
        for index, projection in enumerate(projections):
            write_projection(scan_dir, index, projection)
    write_metadata(scan_dir, meta)
