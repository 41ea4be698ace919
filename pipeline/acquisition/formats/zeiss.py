"""ZEISS Xradia ``.txrm`` (projections) and ``.txm`` (reconstructed volume) onto the contract-v1 frame.

ZEISS publishes no specification of these OLE2 compound files. The stream
names below are the ones that readable open-source readers use, each listed
with where it is described (never copied): CIL's ``ZEISSDataReader`` (XrayGeometry,
AcquisitionMode, StoRA/DtoRA distances, the pixel-size interpretation),
DXchange's ``read_txrm``/``read_ole_metadata`` (image streams in groups of 100,
DataType codes 5 = uint16 and 10 = float32, Angles, X/Y/ZPosition, NoOfImages,
ImageWidth/Height, PixelSize, ReferenceData), txrm2tiff's ``stream_dtypes``
and ``file_handler`` (ImagesTaken vs NoOfImages for completeness,
CameraBinning, ObjectiveName, ExpTimes, Voltage, Current, Alignment shifts,
ReferenceData/ImageInfo/*), and dxchange forks that add
ReconSettings/CenterShift, AcquisitionSettings/SrcPower and SourceFilterName.

Every frame and unit conversion is in :func:`contract_document` (projections)
and :func:`txm_volume_document` (volumes); what rests on an assumption is
marked ASSUMED there and in the README section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np

from models.errors import InputError
from pipeline.acquisition.contract import ScanMetadata, VolumeScanMetadata
from pipeline.acquisition.formats.common import line_integrals, merged, validated, validated_volume
from pipeline.acquisition.formats.ole import OleStreams
from pipeline.acquisition.scan import Scan
from pipeline.acquisition.volume_files import VolumeFile

# -- stream names (see module docstring for where each is described) ---------------------------
WIDTH, HEIGHT = "ImageInfo/ImageWidth", "ImageInfo/ImageHeight"  # int32, pixels (columns, rows)
N_IMAGES, IMAGES_TAKEN = "ImageInfo/NoOfImages", "ImageInfo/ImagesTaken"  # int32 planned / uint32 written so far
DATA_TYPE = "ImageInfo/DataType"  # int32: 5 uint16, 10 float32
PIXEL_SIZE = "ImageInfo/PixelSize"  # float32, µm: pixel (txrm) or voxel (txm) size at the sample
ANGLES = "ImageInfo/Angles"  # float32 per image, degrees
SOURCE_TO_AXIS = "ImageInfo/StoRADistance"  # float32 per image, mm in .txrm (negative: source upstream)
DETECTOR_TO_AXIS = "ImageInfo/DtoRADistance"  # float32 per image, mm in .txrm
X_POS, Y_POS, Z_POS = "ImageInfo/XPosition", "ImageInfo/YPosition", "ImageInfo/ZPosition"  # float32 per image, µm
XRAY_GEOMETRY = "ImageInfo/XrayGeometry"  # int32: 1 cone beam, otherwise parallel (CIL)
ACQUISITION_MODE = "ImageInfo/AcquisitionMode"  # int32: 0 projections (CIL)
CENTRE_SHIFT = "ReconSettings/CenterShift"  # float32, detector columns
VOLTAGE, CURRENT = "ImageInfo/Voltage", "ImageInfo/Current"  # float32 per image: kV, µA
POWER = "AcquisitionSettings/SrcPower"  # float32, W
FILTER = "AcquisitionSettings/SourceFilterName"  # NUL-padded string
OBJECTIVE = "ImageInfo/ObjectiveName"  # NUL-padded string
BINNING = "ImageInfo/CameraBinning"  # int32
EXPOSURES = "ImageInfo/ExpTimes"  # float32 per image, s
X_SHIFTS, Y_SHIFTS = "Alignment/X-Shifts", "Alignment/Y-Shifts"  # float32 per image, pixels (columns, rows)
REFERENCE = "ReferenceData/Image"  # the flat (reference) image, [rows, columns]
REFERENCE_TYPES = ("ReferenceData/DataType", "ReferenceData/ImageInfo/DataType")
DATA_TYPES = {5: "<u2", 10: "<f4"}
IMAGES_PER_STORAGE = 100
MAX_DISTANCE_MM = 5000.0  # a .txrm distance above this is not millimetres; refused rather than guessed


def image_stream(index: int) -> str:
    """Stream of image ``index`` (0-based): ``ImageData{1 + index // 100}/Image{index + 1}``."""
    return f"ImageData{1 + index // IMAGES_PER_STORAGE}/Image{index + 1}"


def _dtype(ole: OleStreams, names: tuple[str, ...] = (DATA_TYPE,)) -> str:
    for name in names:
        if ole.exists(name):
            code = int(ole.scalar(name, "<i4"))
            if code not in DATA_TYPES:
                raise InputError(ole.path, f"stream {name}: unsupported image data type {code} (5 uint16, 10 float32)")
            return DATA_TYPES[code]
    raise InputError(ole.path, f"stream {names[0]} missing")


def _first(ole: OleStreams, name: str, dtype: str = "<f4") -> float | None:
    return float(ole.array(name, dtype)[0]) if ole.exists(name) and len(ole.raw(name)) >= 4 else None


def contract_document(ole: OleStreams, role: Literal["scout", "zoom"], sample_id: str) -> dict[str, Any]:
    """The one place where ZEISS frame and units become contract v1 (a ``scan.json`` document).

    - distances: |StoRA| and |DtoRA| of the first image, mm; SDD = SOD + ODD.
    - PixelSize is the pixel at the sample (µm; CIL): the virtual detector
      pitch is PixelSize x SDD / SOD, and ``recon_voxel_mm`` = PixelSize / 1000.
    - angles: ImageInfo/Angles as our θ. ASSUMED: same sense as ours
      (counter-clockwise seen from above) and image row 0 at the top, column
      index along +x; not checked against a real file.
    - CenterShift (columns) -> ``detector_offset_px[1]``. ASSUMED sign: positive
      moves the rotation axis towards higher columns.
    - stage: the sample point at the volume centre is minus the stage
      displacement, mapped ZEISS X -> our x, ZEISS Z (along the beam) -> our y,
      ZEISS Y (vertical) -> our z, µm -> mm. ASSUMED axes and signs (only
      differences between the two scans of a pair matter).
    """
    count = int(ole.scalar(N_IMAGES, "<i4"))
    if count <= 0:
        raise InputError(ole.path, f"stream {N_IMAGES}: {count} images")
    if ole.exists(XRAY_GEOMETRY) and int(ole.scalar(XRAY_GEOMETRY, "<i4")) != 1:
        raise InputError(ole.path, f"stream {XRAY_GEOMETRY} says parallel beam; scoutzoom reconstructs cone beam only")
    if ole.exists(ACQUISITION_MODE) and int(ole.scalar(ACQUISITION_MODE, "<i4")) != 0:
        raise InputError(ole.path, f"stream {ACQUISITION_MODE} is not 0: not a projection series (a .txm volume?)")
    sod = abs(float(ole.array(SOURCE_TO_AXIS, "<f4", 1)[0]))
    odd = abs(float(ole.array(DETECTOR_TO_AXIS, "<f4", 1)[0]))
    pixel_um = ole.scalar(PIXEL_SIZE, "<f4")
    if not (sod > 0 and odd > 0 and pixel_um > 0):
        raise InputError(
            ole.path, f"geometry streams not positive: StoRA {sod} mm, DtoRA {odd} mm, PixelSize {pixel_um} µm"
        )
    if max(sod, odd) > MAX_DISTANCE_MM:
        raise InputError(
            ole.path, f"StoRA {sod} / DtoRA {odd} beyond {MAX_DISTANCE_MM} mm: not in mm (µm, as in .txm?)"
        )
    sdd = sod + odd
    position_um = [ole.array(name, "<f4", 1)[0] if ole.exists(name) else 0.0 for name in (X_POS, Y_POS, Z_POS)]
    x_um, y_um, z_um = (float(v) for v in position_um)
    conditions = {
        "voltage_kv": _first(ole, VOLTAGE),
        "current_ua": _first(ole, CURRENT),
        "power_w": _first(ole, POWER),
        "filter": ole.string(FILTER),
        "objective": ole.string(OBJECTIVE),
        "binning": int(ole.scalar(BINNING, "<i4")) if ole.exists(BINNING) else None,
        "exposure_s": _first(ole, EXPOSURES),
    }
    return {
        "format_version": 1,
        "role": role,
        "sample_id": sample_id,
        "values": "intensity",
        "geometry": {
            "source_to_axis_mm": sod,
            "source_to_detector_mm": sdd,
            "detector_shape": [int(ole.scalar(HEIGHT, "<i4")), int(ole.scalar(WIDTH, "<i4"))],
            "detector_pixel_mm": [pixel_um / 1000.0 * sdd / sod] * 2,
            "detector_offset_px": [0.0, float(ole.optional_scalar(CENTRE_SHIFT, "<f4") or 0.0)],
            "angles_deg": [float(a) for a in ole.array(ANGLES, "<f4", count)],
        },
        "sample_position_mm": [-x_um / 1000.0, -z_um / 1000.0, -y_um / 1000.0],
        "conditions": {k: v for k, v in conditions.items() if v is not None},
        "recon_voxel_mm": pixel_um / 1000.0,
        "source_format": "zeiss-txrm",
    }


def read_txrm_metadata(
    path: Path, role: Literal["scout", "zoom"], sample_id: str | None = None, overrides: dict[str, Any] | None = None
) -> ScanMetadata:
    """Typed metadata of a ``.txrm`` (no image data read); ``overrides`` as in :func:`~.common.merged`."""
    path = Path(path)
    with OleStreams(path) as ole:
        return validated(merged(contract_document(ole, role, sample_id or path.stem), overrides), path)


def _shifted(image: np.ndarray, shift_rows: float, shift_cols: float) -> np.ndarray:
    from scipy import ndimage

    return ndimage.shift(image, (shift_rows, shift_cols), order=1, mode="nearest")


def read_txrm(
    path: Path, role: Literal["scout", "zoom"], sample_id: str | None = None, overrides: dict[str, Any] | None = None
) -> Scan:
    """A ``.txrm`` as a :class:`Scan`: line integrals from the images and the stored reference (flat).

    The per-image ``Alignment/X-Shifts``/``Y-Shifts`` (pixels) are applied to
    the normalised projections (linear interpolation, edge values at the
    border) in the sense CIL applies them (+x moves content to higher
    columns); a scan with non-zero shifts says so in its warnings.
    """
    path = Path(path)
    warnings: list[str] = []
    with OleStreams(path) as ole:
        meta = validated(merged(contract_document(ole, role, sample_id or path.stem), overrides), path)
        rows, columns = meta.geometry.detector_shape
        count = meta.geometry.n_angles
        if ole.exists(IMAGES_TAKEN) and int(ole.scalar(IMAGES_TAKEN, "<u4")) < count:
            raise InputError(
                path, f"stream {IMAGES_TAKEN}: {int(ole.scalar(IMAGES_TAKEN, '<u4'))} of {count} images written"
            )
        dtype = _dtype(ole)
        raw = np.empty((count, rows, columns), dtype=np.float32)
        for index in range(count):
            name = image_stream(index)
            raw[index] = ole.array(name, dtype, rows * columns).reshape(rows, columns)
        flat = None
        if ole.exists(REFERENCE):
            flat = ole.array(REFERENCE, _dtype(ole, REFERENCE_TYPES + (DATA_TYPE,)), rows * columns).reshape(
                rows, columns
            )
        elif role == "zoom":
            raise InputError(path, f"stream {REFERENCE} missing: a zoom scan needs its reference (flat) image")
        values = line_integrals(raw, flat, None, path, warnings)
        _apply_alignment(ole, values, warnings)
    return Scan(meta=meta, line_integrals=values, source=path, warnings=warnings)


def _apply_alignment(ole: OleStreams, values: np.ndarray, warnings: list[str]) -> None:
    """Shift each normalised projection by its ``Alignment/X-Shifts``, ``Y-Shifts`` (pixels), in place."""
    count = values.shape[0]
    if not (ole.exists(X_SHIFTS) or ole.exists(Y_SHIFTS)):
        return
    dx = ole.array(X_SHIFTS, "<f4", count) if ole.exists(X_SHIFTS) else np.zeros(count, np.float32)
    dy = ole.array(Y_SHIFTS, "<f4", count) if ole.exists(Y_SHIFTS) else np.zeros(count, np.float32)
    moved = np.flatnonzero((dx != 0) | (dy != 0))
    for index in moved:
        values[index] = _shifted(values[index], float(dy[index]), float(dx[index]))
    if moved.size:
        warnings.append(f"{ole.path.name}: alignment shifts applied (up to {float(np.max(np.hypot(dx, dy))):.2f} px)")


def txm_volume_document(ole: OleStreams, role: Literal["scout", "zoom"], sample_id: str) -> dict[str, Any]:
    """The one place where a ``.txm`` becomes a volume ``scan.json`` document.

    PixelSize is the voxel (µm, isotropic); the slices are ImageData images in
    order. ASSUMED: image 1 is the bottom slice (``slice_order: bottom_up``),
    rows along +y and columns along +x; a lab that knows otherwise states
    ``slice_order`` in a ``scan.json`` beside the file. Stage positions map as
    in :func:`contract_document`.
    """
    voxel_mm = ole.scalar(PIXEL_SIZE, "<f4") / 1000.0
    if not voxel_mm > 0:
        raise InputError(ole.path, f"stream {PIXEL_SIZE}: voxel size {voxel_mm * 1000} µm")
    x_um, y_um, z_um = (float(ole.array(n, "<f4", 1)[0]) if ole.exists(n) else 0.0 for n in (X_POS, Y_POS, Z_POS))
    conditions = {
        "voltage_kv": _first(ole, VOLTAGE),
        "current_ua": _first(ole, CURRENT),
        "filter": ole.string(FILTER),
        "objective": ole.string(OBJECTIVE),
        "binning": int(ole.scalar(BINNING, "<i4")) if ole.exists(BINNING) else None,
    }
    return {
        "format_version": 1,
        "role": role,
        "data": "volume",
        "sample_id": sample_id,
        "volume": {"file": ole.path.name, "voxel_mm": voxel_mm, "slice_order": "bottom_up"},
        "sample_position_mm": [-x_um / 1000.0, -z_um / 1000.0, -y_um / 1000.0],
        "conditions": {k: v for k, v in conditions.items() if v is not None},
        "source_format": "zeiss-txm",
    }


def read_txm_metadata(
    path: Path, role: Literal["scout", "zoom"], sample_id: str | None = None, overrides: dict[str, Any] | None = None
) -> VolumeScanMetadata:
    """Volume-scan metadata of a bare ``.txm`` (no ``scan.json`` beside it)."""
    path = Path(path)
    with OleStreams(path) as ole:
        return validated_volume(merged(txm_volume_document(ole, role, sample_id or path.stem), overrides), path)


def read_txm_volume(path: Path) -> VolumeFile:
    """The slices of a ``.txm`` as stored (``[slice, row, column]``) and its voxel size."""
    path = Path(path)
    with OleStreams(path) as ole:
        rows, columns = int(ole.scalar(HEIGHT, "<i4")), int(ole.scalar(WIDTH, "<i4"))
        count = int(ole.scalar(N_IMAGES, "<i4"))
        if min(rows, columns, count) <= 0:
            raise InputError(path, f"volume shape {count} x {rows} x {columns}")
        dtype = _dtype(ole)
        data = np.empty((count, rows, columns), dtype=np.dtype(dtype).newbyteorder("="))
        for index in range(count):
            data[index] = ole.array(image_stream(index), dtype, rows * columns).reshape(rows, columns)
        voxel = ole.scalar(PIXEL_SIZE, "<f4") / 1000.0
    return VolumeFile(data=data, voxel_zyx_mm=(voxel, voxel, voxel), kind="zeiss-txm")


def txm_header(path: Path) -> tuple[tuple[int, int, int], tuple[float, float, float]]:
    """Shape ``(slices, rows, columns)`` and voxel (mm) of a ``.txm`` from its header streams."""
    with OleStreams(Path(path)) as ole:
        shape = (int(ole.scalar(N_IMAGES, "<i4")), int(ole.scalar(HEIGHT, "<i4")), int(ole.scalar(WIDTH, "<i4")))
        voxel = ole.scalar(PIXEL_SIZE, "<f4") / 1000.0
    return shape, (voxel, voxel, voxel)


def images_written(path: Path) -> tuple[int, int]:
    """``(ImagesTaken, NoOfImages)``: how many images are written of how many planned (txrm2tiff's test)."""
    with OleStreams(path) as ole:
        planned = int(ole.scalar(N_IMAGES, "<i4"))
        taken = int(ole.scalar(IMAGES_TAKEN, "<u4")) if ole.exists(IMAGES_TAKEN) else planned
    return taken, planned
