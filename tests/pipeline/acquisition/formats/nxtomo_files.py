"""NXtomo fixtures written field by field with h5py (the NeXus layout by hand)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from tests.pipeline.acquisition.formats.conftest import ANGLES, COLUMNS, ROWS, counts


def write_h5(
    path: Path,
    frames: np.ndarray,
    keys: list[int],
    angles: np.ndarray,
    *,
    source_mm: float | None = -20.0,
    translation_um: tuple[float, float, float] = (250.0, -1500.0, 500.0),
    axis_px: float | None = 4.75,
    pixel_unit: str = "um",
    pixel: float = 100.0,
) -> Path:
    """The NXtomo layout written field by field (units on every length)."""
    with h5py.File(path, "w") as f:
        entry = f.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        entry["definition"] = "NXtomo"
        detector = entry.create_group("instrument/detector")
        detector.attrs["NX_class"] = "NXdetector"
        detector["data"] = frames
        detector["image_key"] = np.asarray(keys, dtype=np.int32)
        for name, value, unit in (
            ("x_pixel_size", pixel, pixel_unit),
            ("y_pixel_size", pixel, pixel_unit),
            ("distance", 0.18, "m"),
        ):
            detector[name] = value
            detector[name].attrs["units"] = unit
        if axis_px is not None:
            detector["x_rotation_axis_pixel_position"] = axis_px
        source = entry.create_group("instrument/source")
        source["type"] = "Fixed Tube X-ray"
        if source_mm is not None:
            source["distance"] = source_mm
            source["distance"].attrs["units"] = "mm"
        entry["instrument/beam/incident_energy"] = 45.0
        entry["instrument/beam/incident_energy"].attrs["units"] = "keV"
        sample = entry.create_group("sample")
        sample["name"] = "foam-0007"
        sample["rotation_angle"] = angles
        sample["rotation_angle"].attrs["units"] = "degree"
        for axis, value in zip("xyz", translation_um, strict=True):
            sample[f"{axis}_translation"] = np.full(len(keys), value)
            sample[f"{axis}_translation"].attrs["units"] = "um"
    return path


def nx_frames(line_integrals: np.ndarray, flat: np.ndarray) -> tuple[np.ndarray, list[int], np.ndarray]:
    dark = np.full((1, ROWS, COLUMNS), 100, np.uint16)
    images = counts(line_integrals, flat - 100) + 100
    stack = np.concatenate(
        [dark, np.round(flat)[None].astype(np.uint16), images, np.round(flat)[None].astype(np.uint16)]
    )
    keys = [2, 1] + [0] * ANGLES + [1]
    angles = np.concatenate([[0.0, 0.0], 30.0 * np.arange(ANGLES), [360.0]])
    return stack, keys, angles
