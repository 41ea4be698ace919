"""ZEISS ``.txrm``/``.txm`` fixtures with the real stream names, written by :mod:`cfb_writer`.

The inverse of the adapter's documented mapping, written out here on its own:
StoRA is stored negative (source upstream), PixelSize is the pixel at the
sample in µm, positions are stage displacements in µm (sample point at the
volume centre = minus the displacement; ZEISS X, Y, Z = our x, z, y).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.acquisition.contract import ScanMetadata
from tests.pipeline.acquisition.formats.cfb_writer import write_compound_file


def _f32(values) -> bytes:
    return np.asarray(values, dtype="<f4").tobytes()


def _i32(value: int) -> bytes:
    return np.asarray([value], dtype="<i4").tobytes()


def _text(value: str, size: int = 260) -> bytes:
    return value.encode("latin-1").ljust(size, b"\x00")


def txrm_streams(meta: ScanMetadata, images: np.ndarray, flat: np.ndarray | None) -> dict[str, bytes]:
    """Streams of a .txrm; images are stored as uint16 (DataType 5) or float32 (10) as given."""
    code, stored = (10, "<f4") if np.asarray(images).dtype.kind == "f" else (5, "<u2")
    g = meta.geometry
    n = g.n_angles
    sod, odd = g.source_to_axis_mm, g.source_to_detector_mm - g.source_to_axis_mm
    pixel_um = g.detector_pixel_mm[1] / g.magnification * 1000.0
    x, y, z = meta.sample_position_mm
    c = meta.conditions
    streams = {
        "ImageInfo/ImageWidth": _i32(g.columns),
        "ImageInfo/ImageHeight": _i32(g.rows),
        "ImageInfo/NoOfImages": _i32(n),
        "ImageInfo/ImagesTaken": np.asarray([n], "<u4").tobytes(),
        "ImageInfo/DataType": _i32(code),
        "ImageInfo/PixelSize": _f32([pixel_um]),
        "ImageInfo/Angles": _f32(g.angles()),
        "ImageInfo/StoRADistance": _f32([-sod] * n),
        "ImageInfo/DtoRADistance": _f32([odd] * n),
        "ImageInfo/XPosition": _f32([-x * 1000] * n),
        "ImageInfo/YPosition": _f32([-z * 1000] * n),
        "ImageInfo/ZPosition": _f32([-y * 1000] * n),
        "ImageInfo/XrayGeometry": _i32(1),
        "ImageInfo/AcquisitionMode": _i32(0),
        "ReconSettings/CenterShift": _f32([g.detector_offset_px[1]]),
        "ImageInfo/Voltage": _f32([c.voltage_kv] * n),
        "ImageInfo/Current": _f32([c.current_ua] * n),
        "AcquisitionSettings/SrcPower": _f32([7.0]),
        "AcquisitionSettings/SourceFilterName": _text(c.filter or ""),
        "ImageInfo/ObjectiveName": _text(c.objective or ""),
        "ImageInfo/CameraBinning": _i32(c.binning or 1),
        "ImageInfo/ExpTimes": _f32([c.exposure_s] * n),
        "Alignment/X-Shifts": _f32([0.0] * n),
        "Alignment/Y-Shifts": _f32([0.0] * n),
    }
    for index, image in enumerate(images):
        streams[f"ImageData{1 + index // 100}/Image{index + 1}"] = np.asarray(image, stored).tobytes()
    if flat is not None:
        streams["ReferenceData/Image"] = np.asarray(flat, "<f4").tobytes()
        streams["ReferenceData/DataType"] = _i32(10)
    return streams


def write_txrm(
    path: Path, meta: ScanMetadata, images: np.ndarray, flat: np.ndarray | None, **changes: bytes | None
) -> Path:
    """Write a ``.txrm``; ``changes`` replace streams (``None`` removes one); keys use ``__`` for ``/``."""
    streams = txrm_streams(meta, images, flat)
    for key, value in changes.items():
        name = key.replace("__", "/")
        if value is None:
            streams.pop(name, None)
        else:
            streams[name] = value
    write_compound_file(path, streams)
    return path


def write_txm(
    path: Path, volume: np.ndarray, voxel_um: float, position_um: tuple[float, float, float] = (0.0, 0.0, 0.0)
) -> Path:
    """A ``.txm`` volume: one float32 image per slice, PixelSize the voxel in µm."""
    nz, ny, nx = volume.shape
    streams = {
        "ImageInfo/ImageWidth": _i32(nx),
        "ImageInfo/ImageHeight": _i32(ny),
        "ImageInfo/NoOfImages": _i32(nz),
        "ImageInfo/DataType": _i32(10),
        "ImageInfo/PixelSize": _f32([voxel_um]),
        "ImageInfo/XPosition": _f32([position_um[0]]),
        "ImageInfo/YPosition": _f32([position_um[1]]),
        "ImageInfo/ZPosition": _f32([position_um[2]]),
        "ImageInfo/Voltage": _f32([60.0]),
    }
    for index, image in enumerate(volume):
        streams[f"ImageData{1 + index // 100}/Image{index + 1}"] = np.asarray(image, "<f4").tobytes()
    write_compound_file(path, streams)
    return path
