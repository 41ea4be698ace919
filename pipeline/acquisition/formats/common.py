"""What every vendor adapter shares: typed metadata from a dict, and counts to line integrals in memory.

Adapters build a contract-v1 ``scan.json`` document from the vendor's own
metadata (each in one documented frame-mapping function) and validate it here,
so a vendor file and a ``scan.json`` scan meet the same checks. The result is a
:class:`~pipeline.acquisition.scan.Scan`, exactly what
:func:`pipeline.acquisition.reader.read_scan` returns, so later stages do not
know where a scan came from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from models.errors import InputError
from pipeline.acquisition.contract import ScanMetadata, VolumeScanMetadata

# Same floor as the contract-v1 reader: zero counts give a large but finite line integral.
MIN_TRANSMISSION = 1e-6


def validated(document: dict[str, Any], where: Path) -> ScanMetadata:
    """``document`` as :class:`ScanMetadata`; a problem names the vendor file and the contract field."""
    from models.errors import format_validation_error

    try:
        return ScanMetadata.model_validate(document)
    except ValidationError as error:
        raise InputError(where, f"maps to invalid scan metadata: {format_validation_error(error)}") from None


def validated_volume(document: dict[str, Any], where: Path) -> VolumeScanMetadata:
    """``document`` as :class:`VolumeScanMetadata` (errors as :func:`validated`)."""
    from models.errors import format_validation_error

    try:
        return VolumeScanMetadata.model_validate(document)
    except ValidationError as error:
        raise InputError(where, f"maps to invalid volume metadata: {format_validation_error(error)}") from None


def line_integrals(
    raw: np.ndarray, flat: np.ndarray | None, dark: np.ndarray | None, where: Path, warnings: list[str]
) -> np.ndarray:
    """``-ln((raw - dark) / (flat - dark))`` as float32 ``[angle, row, column]``, finite everywhere.

    ``flat`` and ``dark`` are ``[row, column]`` (or broadcastable) in counts;
    without a flat the brightest values of each column stand for I0, as for a
    contract-v1 scout (with a warning).
    """
    data = np.asarray(raw, dtype=np.float32)
    if not np.all(np.isfinite(data)):
        raise InputError(where, f"{int(np.sum(~np.isfinite(data)))} non-finite projection values")
    dark_f = np.zeros(data.shape[1:], np.float32) if dark is None else np.asarray(dark, np.float32)
    if flat is None:
        flat_f = np.broadcast_to(np.percentile(data, 99.5, axis=(0, 1)), data.shape[1:]).astype(np.float32)
        warnings.append(f"{where}: no flat field; I0 estimated from the brightest (air) values of the projections")
    else:
        flat_f = np.asarray(flat, np.float32)
    denominator = flat_f - dark_f
    if np.any(denominator <= 0):
        raise InputError(where, f"flat minus dark is not positive in {int(np.sum(denominator <= 0))} pixels")
    transmission = (data - dark_f) / denominator
    clipped = int(np.sum(transmission < MIN_TRANSMISSION))
    if clipped:
        warnings.append(f"{where}: {clipped} pixels with transmission <= 0 clipped to {MIN_TRANSMISSION}")
    return (-np.log(np.maximum(transmission, MIN_TRANSMISSION))).astype(np.float32)


def merged(document: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """``document`` with ``overrides`` laid over it (``conditions`` and ``volume`` merged key by key).

    Overrides come from the lab (a sidecar file, the command line): role,
    sample id, stage position, conditions the vendor file lacks. Geometry read
    from the vendor file is not overridden here.
    """
    if not overrides:
        return document
    out = dict(document)
    for key, value in overrides.items():
        if key == "geometry":
            raise ValueError("geometry comes from the vendor file and cannot be overridden")
        if key in ("conditions", "volume") and isinstance(value, dict):
            out[key] = {**out.get(key, {}), **value}
        else:
            out[key] = value
    return out
