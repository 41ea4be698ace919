"""Convert a contract-v1 scan folder into each vendor format (for round trips; also usable by pair-level tests).

Each converter writes the vendor's own layout from the contract scan's counts,
flat and dark, inverting the adapter's documented frame mapping by hand.
Images are stored as float32 where the format allows, so a round trip shows
the mapping, not quantisation.
"""

from __future__ import annotations

import configparser
from pathlib import Path

import h5py
import numpy as np
import tifffile

from pipeline.acquisition.contract import ScanMetadata
from pipeline.acquisition.reader import read_metadata, read_raw_projections
from tests.pipeline.acquisition.formats.cfb_writer import write_compound_file
from tests.pipeline.acquisition.formats.zeiss_files import txrm_streams

WHITE = 60000.0


def _counts(scan_dir: Path) -> tuple[ScanMetadata, np.ndarray, np.ndarray, np.ndarray]:
    """Metadata, projections, flat and dark (float32, dark-subtracted flat and projections not yet)."""
    meta = read_metadata(scan_dir)
    raw = read_raw_projections(scan_dir, meta).astype(np.float32)
    shape = meta.geometry.detector_shape
    page = lambda name: tifffile.imread(scan_dir / name).reshape(-1, *shape).mean(axis=0).astype(np.float32)  # noqa: E731
    flat = page("flat.tif") if (scan_dir / "flat.tif").exists() else np.full(shape, raw.max(), np.float32)
    dark = page("dark.tif") if (scan_dir / "dark.tif").exists() else np.zeros(shape, np.float32)
    if meta.values != "intensity":
        raise ValueError("the converters take intensity scans (as the simulator writes)")
    return meta, raw, flat, dark


def to_txrm(scan_dir: Path, path: Path) -> Path:
    """ZEISS .txrm: dark-subtracted float32 images and reference (ZEISS stores no dark)."""
    meta, raw, flat, dark = _counts(scan_dir)
    write_compound_file(path, txrm_streams(meta, raw - dark, flat - dark))
    return path


def to_xtekct(scan_dir: Path, folder: Path, name: str = "scan") -> Path:
    """Nikon: shading-corrected float32 projections (air = WhiteLevel), columns reversed, Nikon angles."""
    meta, raw, flat, dark = _counts(scan_dir)
    g = meta.geometry
    angles = g.angles()
    step = float(np.median(np.diff(angles))) if angles.size > 1 else 1.0
    folder.mkdir(parents=True, exist_ok=True)
    keys = {
        "Name": name,
        "InputFolderName": "",
        "Projections": g.n_angles,
        "InitialAngle": 180.0 - angles[0],
        "AngularStep": -step,
        "DetectorPixelsX": g.columns,
        "DetectorPixelsY": g.rows,
        "DetectorPixelSizeX": g.detector_pixel_mm[1],
        "DetectorPixelSizeY": g.detector_pixel_mm[0],
        "DetectorOffsetX": 0.0,
        "DetectorOffsetY": g.detector_offset_px[0] * g.detector_pixel_mm[0],
        "SrcToObject": g.source_to_axis_mm,
        "SrcToDetector": g.source_to_detector_mm,
        "ObjectOffsetX": -g.detector_offset_px[1] * g.detector_pixel_mm[1] / g.magnification,
        "WhiteLevel": WHITE,
        "XraykV": meta.conditions.voltage_kv or 0,
        "XrayuA": meta.conditions.current_ua or 0,
    }
    parser = configparser.ConfigParser()
    parser.optionxform = str
    parser["XTekCT"] = {k: repr(float(v)) if isinstance(v, float) else str(v) for k, v in keys.items()}
    with open(folder / f"{name}.xtekct", "w") as handle:
        parser.write(handle)
    corrected = (raw - dark) / (flat - dark) * WHITE
    for index, projection in enumerate(corrected):
        tifffile.imwrite(folder / f"{name}_{index + 1:04d}.tif", np.ascontiguousarray(projection[:, ::-1], np.float32))
    return folder / f"{name}.xtekct"


def to_nxtomo(scan_dir: Path, path: Path) -> Path:
    """NXtomo: dark, flat, then projections as frames with image keys; lengths in mm."""
    meta, raw, flat, dark = _counts(scan_dir)
    g = meta.geometry
    sx, sy, sz = meta.sample_position_mm
    keys = [2, 1] + [0] * g.n_angles
    angles = np.concatenate([[0.0, 0.0], g.angles()])
    with h5py.File(path, "w") as f:
        entry = f.create_group("entry")
        entry["definition"] = "NXtomo"
        det = entry.create_group("instrument/detector")
        det["data"] = np.concatenate([dark[None], flat[None], raw]).astype(np.float32)
        det["image_key"] = np.asarray(keys, np.int32)
        fields = {
            "x_pixel_size": g.detector_pixel_mm[1],
            "y_pixel_size": g.detector_pixel_mm[0],
            "distance": g.source_to_detector_mm - g.source_to_axis_mm,
        }
        for field, value in fields.items():
            det[field] = value
            det[field].attrs["units"] = "mm"
        det["x_rotation_axis_pixel_position"] = g.detector_offset_px[1] + (g.columns - 1) / 2.0
        entry["instrument/source/distance"] = -g.source_to_axis_mm
        entry["instrument/source/distance"].attrs["units"] = "mm"
        sample = entry.create_group("sample")
        sample["name"] = meta.sample_id
        sample["rotation_angle"] = angles
        sample["rotation_angle"].attrs["units"] = "degree"
        for axis, value in (("x", sx), ("y", -sz), ("z", -sy)):
            sample[f"{axis}_translation"] = np.full(len(keys), value)
            sample[f"{axis}_translation"].attrs["units"] = "mm"
    return path
