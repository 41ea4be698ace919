"""Read a scan directory (contract v1) into typed metadata and line integrals.

Projections come as one multi-page ``projections.tif`` or numbered
``proj_NNNNN.tif`` files; ``values`` says whether they are raw intensities
(converted with ``flat.tif``/``dark.tif``), transmission or line integrals.
The result is float32 ``[angle, row, column]`` line integrals, always finite.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from pipeline.acquisition import layout as names
from pipeline.acquisition.contract import ScanMetadata
from pipeline.acquisition.scan import Scan
from pipeline.acquisition.tiffcheck import read_tiff
from models.errors import InputError

# Transmission is clipped to this floor before -ln, so zero counts give a large
# but finite line integral instead of inf.
MIN_TRANSMISSION = 1e-6


def format_validation_error(error: ValidationError) -> str:
    """Every problem of a pydantic error as 'field.path: message', joined."""
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(document)"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def read_metadata(scan_dir: Path) -> ScanMetadata:
    """Parse and validate ``scan.json``; errors name the file and the field."""
    path = Path(scan_dir) / names.METADATA
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, "missing") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(path, f"cannot read: {error}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(path, f"malformed JSON at line {error.lineno} column {error.colno}: {error.msg}") from None
    if not isinstance(document, dict):
        raise InputError(path, f"expected a JSON object, got {type(document).__name__}")
    try:
        return ScanMetadata.model_validate(document)
    except ValidationError as error:
        raise InputError(path, format_validation_error(error)) from None


def read_raw_projections(scan_dir: Path, meta: ScanMetadata) -> np.ndarray:
    """The projections as stored ([angle, row, column], original dtype)."""
    scan_dir = Path(scan_dir)
    count = meta.geometry.n_angles
    shape = meta.geometry.detector_shape
    stack = scan_dir / names.STACK
    if stack.exists():
        data = read_tiff(stack, expected_shape=shape)
        if data.shape[0] != count:
            raise InputError(stack, f"has {data.shape[0]} pages, geometry.angles_deg says {count}")
        return data
    files = names.numbered_projections(scan_dir)
    if not files:
        raise InputError(scan_dir, f"no projections ({names.STACK} or proj_00000.tif ...)")
    missing = [i for i in range(count) if i not in files]
    if missing:
        raise InputError(scan_dir, f"{count - len(missing)} of {count} projections present (first missing: {names.projection_name(missing[0])})")
    extra = sorted(set(files) - set(range(count)))
    if extra:
        raise InputError(files[extra[0]], f"projection number beyond geometry.angles_deg count {count}")
    first = read_tiff(files[0], expected_shape=shape)[0]
    data = np.empty((count, *shape), dtype=first.dtype)
    data[0] = first
    for index in range(1, count):
        page = read_tiff(files[index], expected_shape=shape)
        if page.shape[0] != 1:
            raise InputError(files[index], f"expected one page, found {page.shape[0]}")
        if page.dtype != first.dtype:
            raise InputError(files[index], f"pixel type {page.dtype} differs from proj_00000 ({first.dtype})")
        data[index] = page[0]
    return data


def _mean_frame(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """A flat or dark image: the mean of its pages, float64."""
    frames = read_tiff(path, expected_shape=shape).astype(np.float64)
    if not np.all(np.isfinite(frames)):
        raise InputError(path, "contains non-finite values")
    return frames.mean(axis=0)


def _check_finite(data: np.ndarray, where: Path) -> None:
    bad = ~np.isfinite(data)
    if bad.any():
        pages = np.unique(np.nonzero(bad)[0])
        raise InputError(where, f"{int(bad.sum())} non-finite values (first in projection {int(pages[0])})")


def to_line_integrals(raw: np.ndarray, meta: ScanMetadata, scan_dir: Path, warnings: list[str]) -> np.ndarray:
    """Convert stored values to float32 line integrals, finite everywhere."""
    scan_dir = Path(scan_dir)
    if meta.values == "line_integral":
        data = raw.astype(np.float32, copy=False)
        _check_finite(data, scan_dir)
        return data
    if meta.values == "transmission":
        transmission = raw.astype(np.float32, copy=False)
        _check_finite(transmission, scan_dir)
    else:
        shape = meta.geometry.detector_shape
        dark_path, flat_path = scan_dir / names.DARK, scan_dir / names.FLAT
        dark = _mean_frame(dark_path, shape) if dark_path.exists() else np.zeros(shape)
        if flat_path.exists():
            flat = _mean_frame(flat_path, shape)
        elif meta.role == "zoom":
            raise InputError(flat_path, "missing: an intensity zoom scan needs a flat field (no air in interior projections)")
        else:
            flat = np.broadcast_to(np.percentile(raw, 99.5, axis=(0, 1)), shape).astype(np.float64)
            warnings.append(f"{flat_path}: missing; I0 estimated from the brightest (air) values of the projections")
        denominator = flat - dark
        if np.any(denominator <= 0):
            raise InputError(flat_path, f"flat minus dark is not positive in {int(np.sum(denominator <= 0))} pixels")
        transmission = ((raw.astype(np.float32) - dark.astype(np.float32)) / denominator.astype(np.float32))
        saturated = int(np.sum(raw >= np.iinfo(raw.dtype).max)) if raw.dtype.kind == "u" else 0
        if saturated:
            warnings.append(f"{scan_dir}: {saturated} saturated pixels")
    clipped = int(np.sum(transmission < MIN_TRANSMISSION))
    if clipped:
        warnings.append(f"{scan_dir}: {clipped} pixels with transmission <= 0 clipped to {MIN_TRANSMISSION}")
    return (-np.log(np.maximum(transmission, MIN_TRANSMISSION))).astype(np.float32)


def read_scan(scan_dir: Path) -> Scan:
    """Read ``scan_dir`` into a :class:`Scan` (line integrals, float32, finite)."""
    scan_dir = Path(scan_dir)
    meta = read_metadata(scan_dir)
    raw = read_raw_projections(scan_dir, meta)
    warnings: list[str] = []
    line_integrals = to_line_integrals(raw, meta, scan_dir, warnings)
    return Scan(meta=meta, line_integrals=line_integrals, source=scan_dir, warnings=warnings)
