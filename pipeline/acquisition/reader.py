"""Read a scan directory (contract v1) into typed metadata and line integrals.

Projections come as one multi-page ``projections.tif`` or numbered
``proj_NNNNN.tif`` files; ``values`` says whether they are raw intensities
(converted with ``flat.tif``/``dark.tif``), transmission or line integrals.
The result is float32 ``[angle, row, column]`` line integrals, always finite.
Every read is bounded (:class:`ReadLimits`): ``scan.json`` by size, the
projections by their decoded size against a memory budget checked from the
headers before any pixel is decoded, and links leaving an allowed folder are
refused. Non-finite stored values are an error naming the file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from models.errors import InputError, format_validation_error
from pipeline.acquisition import layout as names
from pipeline.acquisition.bounded import MAX_METADATA_BYTES, read_bounded
from pipeline.acquisition.contract import ScanMetadata
from pipeline.acquisition.scan import Scan
from pipeline.acquisition.tiffcheck import inspect_tiff, read_tiff

MAX_FRAME_PAGES = 1000  # flat/dark: averaged frames; more is not a flat field
WORKING_BYTES_PER_VALUE = 8  # the float32 line integrals, plus a stored-size copy (percentile of a scout without flat)


def default_memory_budget_bytes() -> int:
    """Half the machine's physical memory (bytes); 4 GiB when it cannot be read."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2)
    except (ValueError, OSError, AttributeError):
        return 4 << 30


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on reading one scan: ``memory_budget_bytes`` for the decoded projections and their
    conversion, ``boundary`` a folder no input link may leave (None: links followed anywhere)."""

    memory_budget_bytes: int | None = None
    boundary: Path | None = None

    def budget(self) -> int:
        return self.memory_budget_bytes if self.memory_budget_bytes is not None else default_memory_budget_bytes()


def _reject_constant(name: str) -> float:
    raise ValueError(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if not np.isfinite(value):
        raise ValueError(text[:40])
    return value


# Transmission is clipped to this floor before -ln, so zero counts give a large
# but finite line integral instead of inf.
MIN_TRANSMISSION = 1e-6


def read_metadata(scan_dir: Path, *, boundary: Path | None = None) -> ScanMetadata:
    """Parse and validate ``scan.json`` (a regular file of at most 1 MiB); errors name the file and the field."""
    path = Path(scan_dir) / names.METADATA
    raw = read_bounded(path, MAX_METADATA_BYTES, boundary)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(path, f"not UTF-8 text (invalid byte at offset {error.start})") from None
    try:
        document = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as error:
        raise InputError(path, f"malformed JSON at line {error.lineno} column {error.colno}: {error.msg}") from None
    except ValueError as error:
        raise InputError(path, f"non-finite number {error} (every number must be finite)") from None
    except RecursionError:
        raise InputError(path, "JSON nested too deeply") from None
    if not isinstance(document, dict):
        raise InputError(path, f"expected a JSON object, got {type(document).__name__}")
    try:
        return ScanMetadata.model_validate(document)
    except ValidationError as error:
        raise InputError(path, format_validation_error(error)) from None


def check_budget(path: Path, meta: ScanMetadata, dtype: str, budget_bytes: int) -> None:
    """Refuse, from the headers alone, projections (first file ``path``) whose reading would exceed the budget."""
    values = meta.geometry.n_angles * meta.geometry.detector_shape[0] * meta.geometry.detector_shape[1]
    needed = values * (_itemsize(path, dtype) + WORKING_BYTES_PER_VALUE)
    if needed > budget_bytes:
        raise InputError(
            path,
            f"{meta.geometry.n_angles} projections of {meta.geometry.detector_shape} {dtype} need about "
            f"{needed / 2**20:.0f} MiB to read, more than the {budget_bytes / 2**20:.0f} MiB memory budget",
        )


def _check_finite_raw(data: np.ndarray, where: Path, first_index: int = 0) -> None:
    """Stored float values must be finite; the error names the file and projection."""
    if data.dtype.kind != "f":
        return
    bad = ~np.isfinite(data)
    if bad.any():
        pages = np.unique(np.nonzero(bad)[0])
        raise InputError(
            where, f"{int(bad.sum())} non-finite values (first in projection {first_index + int(pages[0])})"
        )


def read_raw_projections(scan_dir: Path, meta: ScanMetadata, limits: ReadLimits | None = None) -> np.ndarray:
    """The projections as stored ([angle, row, column], original dtype), finite, within the memory budget."""
    scan_dir = Path(scan_dir)
    limits = limits or ReadLimits()
    count = meta.geometry.n_angles
    shape = meta.geometry.detector_shape
    stack = scan_dir / names.STACK
    if stack.exists():
        info = inspect_tiff(stack, max_pages=count + 1, boundary=limits.boundary)
        if info.pages != count:
            raise InputError(stack, f"has {info.pages} pages, geometry.angles_deg says {count}")
        check_budget(stack, meta, info.dtype, limits.budget())
        data = read_tiff(stack, expected_shape=shape, max_pages=count, boundary=limits.boundary)
        _check_finite_raw(data, stack)
        return data
    files = names.numbered_projections(scan_dir)
    if not files:
        raise InputError(scan_dir, f"no projections ({names.STACK} or proj_00000.tif ...)")
    missing = [i for i in range(count) if i not in files]
    if missing:
        raise InputError(
            scan_dir,
            f"{count - len(missing)} of {count} projections present "
            f"(first missing: {names.projection_name(missing[0])})",
        )
    extra = sorted(set(files) - set(range(count)))
    if extra:
        raise InputError(files[extra[0]], f"projection number beyond geometry.angles_deg count {count}")
    first_info = inspect_tiff(files[0], max_pages=1, boundary=limits.boundary)
    check_budget(files[0], meta, first_info.dtype, limits.budget())
    first = read_tiff(files[0], expected_shape=shape, max_pages=1, boundary=limits.boundary)[0]
    data = np.empty((count, *shape), dtype=first.dtype)
    data[0] = first
    for index in range(1, count):
        page = read_tiff(files[index], expected_shape=shape, max_pages=1, boundary=limits.boundary)
        if page.dtype != first.dtype:
            raise InputError(files[index], f"pixel type {page.dtype} differs from proj_00000 ({first.dtype})")
        data[index] = page[0]
    for index in range(count):
        _check_finite_raw(data[index : index + 1], files[index], index)
    return data


def _itemsize(path: Path, dtype: str) -> int:
    try:
        return np.dtype(dtype).itemsize
    except TypeError:
        raise InputError(path, f"unsupported pixel type {dtype} (contract v1: uint16 or float32)") from None


def _mean_frame(path: Path, shape: tuple[int, int], limits: ReadLimits) -> np.ndarray:
    """A flat or dark image: the mean of its pages (at most 1000), float64."""
    budget = limits.budget()
    frames = read_tiff(
        path, expected_shape=shape, max_pages=MAX_FRAME_PAGES, max_bytes=budget // 4, boundary=limits.boundary
    )
    if not np.all(np.isfinite(frames)):
        raise InputError(path, "contains non-finite values")
    return frames.mean(axis=0, dtype=np.float64)


def _check_finite(data: np.ndarray, where: Path) -> None:
    bad = ~np.isfinite(data)
    if bad.any():
        pages = np.unique(np.nonzero(bad)[0])
        raise InputError(where, f"{int(bad.sum())} non-finite values (first in projection {int(pages[0])})")


def _intensity_frames(
    raw: np.ndarray, meta: ScanMetadata, scan_dir: Path, warnings: list[str], limits: ReadLimits
) -> tuple[np.ndarray, np.ndarray, Path]:
    """Dark and flat-minus-dark (float32) for an intensity scan."""
    shape = meta.geometry.detector_shape
    dark_path, flat_path = scan_dir / names.DARK, scan_dir / names.FLAT
    dark = _mean_frame(dark_path, shape, limits) if dark_path.exists() else np.zeros(shape)
    if flat_path.exists():
        flat = _mean_frame(flat_path, shape, limits)
    elif meta.role == "zoom":
        raise InputError(
            flat_path, "missing: an intensity zoom scan needs a flat field (no air in interior projections)"
        )
    else:
        flat = np.broadcast_to(np.percentile(raw, 99.5, axis=(0, 1)), shape).astype(np.float64)
        warnings.append(f"{flat_path}: missing; I0 estimated from the brightest (air) values of the projections")
    denominator = flat - dark
    if np.any(denominator <= 0):
        raise InputError(flat_path, f"flat minus dark is not positive in {int(np.sum(denominator <= 0))} pixels")
    return dark.astype(np.float32), denominator.astype(np.float32), flat_path


def to_line_integrals(
    raw: np.ndarray, meta: ScanMetadata, scan_dir: Path, warnings: list[str], limits: ReadLimits | None = None
) -> np.ndarray:
    """Convert stored values to float32 line integrals, finite everywhere.

    Converted one projection at a time into one float32 array, so the peak is
    the stored data plus that array (not several full-size temporaries).
    """
    scan_dir = Path(scan_dir)
    limits = limits or ReadLimits()
    if meta.values == "line_integral":
        data = raw.astype(np.float32, copy=False)
        _check_finite(data, scan_dir)
        return data
    if raw.dtype.kind == "f":
        _check_finite(raw, scan_dir)
    intensity = meta.values == "intensity"
    if intensity:
        dark, denominator, _ = _intensity_frames(raw, meta, scan_dir, warnings, limits)
    out = np.empty(raw.shape, dtype=np.float32)
    saturated = clipped = 0
    ceiling = np.iinfo(raw.dtype).max if raw.dtype.kind == "u" else None
    for index in range(raw.shape[0]):
        page = raw[index].astype(np.float32)
        if intensity:
            if ceiling is not None:
                saturated += int(np.count_nonzero(raw[index] >= ceiling))
            page -= dark
            page /= denominator
        clipped += int(np.count_nonzero(page < MIN_TRANSMISSION))
        np.maximum(page, MIN_TRANSMISSION, out=page)
        np.log(page, out=page)
        np.negative(page, out=out[index])
    if saturated:
        warnings.append(f"{scan_dir}: {saturated} saturated pixels")
    if clipped:
        warnings.append(f"{scan_dir}: {clipped} pixels with transmission <= 0 clipped to {MIN_TRANSMISSION}")
    return out


def read_scan(scan_dir: Path, limits: ReadLimits | None = None) -> Scan:
    """Read ``scan_dir`` into a :class:`Scan` (line integrals, float32, finite) within ``limits``."""
    scan_dir = Path(scan_dir)
    limits = limits or ReadLimits()
    meta = read_metadata(scan_dir, boundary=limits.boundary)
    raw = read_raw_projections(scan_dir, meta, limits)
    warnings: list[str] = []
    line_integrals = to_line_integrals(raw, meta, scan_dir, warnings, limits)
    return Scan(meta=meta, line_integrals=line_integrals, source=scan_dir, warnings=warnings)
