"""Nikon XTek CT: ``*.xtekct`` (INI) + TIFF projections (+ optional ``_ctdata.txt`` / ``.ang`` angles).

Keys are read from the ``[XTekCT]`` section (``[Xrays]`` for kV/µA when
present), as Nikon's files write them and CIL's ``NikonDataReader`` reads them
(the published open description used here; no code copied): ``Name``,
``InputFolderName``, ``Projections``, ``InitialAngle``, ``AngularStep`` (deg),
``DetectorPixelsX/Y``, ``DetectorPixelSizeX/Y`` (mm), ``DetectorOffsetX/Y``
(mm), ``SrcToObject``, ``SrcToDetector`` (mm), ``ObjectOffsetX`` (mm) or else
``CentreOfRotationTop/Bottom``, ``ObjectRoll``, ``ObjectTilt`` (deg),
``WhiteLevel``, ``XraykV``, ``XrayuA``, ``Filter_Material``,
``Filter_ThicknessMM``. Projections are ``<Name>_NNNN.tif`` (numbered from 1)
in ``InputFolderName`` (the xtekct's folder when empty), already shading
corrected by the scanner so that air reads ``WhiteLevel``.

The frame mapping is :func:`contract_document`, the one place for it.
"""

from __future__ import annotations

import configparser
import math
import re
from pathlib import Path
from typing import Any, Literal

import numpy as np
import tifffile

from models.errors import InputError
from pipeline.acquisition.contract import ScanMetadata
from pipeline.acquisition.formats.common import line_integrals, merged, validated
from pipeline.acquisition.scan import Scan

SECTION = "XTekCT"
ANGLE_FILES = ("_ctdata.txt", "{name}.ang")
TILT_WARN_DEG = 0.01  # ObjectRoll/ObjectTilt above this are reported: the contract has no tilted axis
ANGLE_FILE_TOLERANCE_DEG = 0.5  # an angle file further than this from InitialAngle + i*AngularStep is reported


class XtekFile:
    """The parsed ``[XTekCT]`` (and ``[Xrays]``) keys of one file, typed on access."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.optionxform = str  # keys are case-sensitive CamelCase
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
            parser.read_string(text)
        except FileNotFoundError:
            raise InputError(self.path, "missing") from None
        except (OSError, configparser.Error) as error:
            raise InputError(self.path, f"not a readable xtekct (INI) file: {error}") from None
        if not parser.has_section(SECTION):
            raise InputError(self.path, f"no [{SECTION}] section")
        self.keys = dict(parser[SECTION])
        self.xrays = dict(parser["Xrays"]) if parser.has_section("Xrays") else {}

    def text(self, key: str, default: str | None = None) -> str:
        value = self.keys.get(key, default)
        if value is None:
            raise InputError(self.path, f"[{SECTION}] {key} missing")
        return value.strip()

    def number(self, key: str, default: float | None = None) -> float:
        raw = self.keys.get(key)
        if raw is None or raw.strip() == "":
            if default is None:
                raise InputError(self.path, f"[{SECTION}] {key} missing")
            return default
        try:
            value = float(raw)
        except ValueError:
            raise InputError(self.path, f"[{SECTION}] {key} = {raw!r} is not a number") from None
        if not math.isfinite(value):
            raise InputError(self.path, f"[{SECTION}] {key} = {raw!r} is not finite")
        return value

    def optional(self, key: str) -> float | None:
        raw = self.keys.get(key, self.xrays.get(key))
        try:
            return float(raw) if raw not in (None, "") else None
        except ValueError:
            raise InputError(self.path, f"[{SECTION}] {key} = {raw!r} is not a number") from None

    def integer(self, key: str) -> int:
        value = self.number(key)
        if value != int(value) or value <= 0:
            raise InputError(self.path, f"[{SECTION}] {key} = {value} is not a positive integer")
        return int(value)


def read_angle_file(folder: Path, name: str, count: int) -> tuple[Path, np.ndarray] | None:
    """Nikon angles (deg) from ``_ctdata.txt`` or ``<Name>.ang`` when present: lines ``<projection> <angle> ...``."""
    for pattern in ANGLE_FILES:
        path = folder / pattern.format(name=name)
        if not path.is_file():
            continue
        angles: dict[int, float] = {}
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            tokens = [t for t in re.split(r"[\s:,;]+", line.strip()) if t]
            if len(tokens) < 2 or not tokens[0].isdigit():
                continue  # header lines
            try:
                angles[int(tokens[0])] = float(tokens[1])
            except ValueError:
                raise InputError(path, f"angle {tokens[1]!r} of projection {tokens[0]} is not a number") from None
        numbers = sorted(angles)
        if numbers != list(range(numbers[0] if numbers else 1, (numbers[0] if numbers else 1) + count)):
            raise InputError(
                path, f"lists {len(numbers)} projections, the xtekct says {count} (or numbers are not consecutive)"
            )
        return path, np.asarray([angles[n] for n in numbers], dtype=float)
    return None


def contract_document(
    xtek: XtekFile,
    role: Literal["scout", "zoom"],
    sample_id: str | None,
    nikon_angles_deg: np.ndarray | None,
    warnings: list[str],
) -> dict[str, Any]:
    """The one place where the Nikon frame and units become contract v1 (a ``scan.json`` document).

    Follows CIL's published Nikon geometry: our θ = 180 - Nikon angle, where the
    Nikon angle is ``InitialAngle + i * AngularStep`` or the angle file's. Pixel
    column 0 is at CIL's panel origin ``top-right``, which CIL defines along
    its detector ``direction_x`` (+x, same frame as ours: beam along +y, z
    up), i.e. column 0 at +x, so columns are reversed (see
    :func:`to_contract_columns`); rows run top to bottom as ours. ASSUMED: CIL's
    angle sense (right-handed about +z) equals ours. The rotation axis sits at x = -ObjectOffsetX
    (mm at the axis; else the mean of CentreOfRotationTop/Bottom, mm at the
    detector) and so projects ``-ObjectOffsetX * M / pitch`` columns from the
    detector centre. ASSUMED, not in CIL: ``DetectorOffsetX/Y`` (mm) move the
    detector centre along +x / up, shifting the principal point the other way;
    reported when non-zero. Roll and tilt of the axis are not modelled
    (reported above 0.01°). No stage position is stored: ``sample_position_mm``
    is 0 unless given beside the file.
    """
    sod, sdd = xtek.number("SrcToObject"), xtek.number("SrcToDetector")
    if not (0 < sod < sdd):
        raise InputError(xtek.path, f"SrcToObject {sod} mm must be positive and below SrcToDetector {sdd} mm")
    magnification = sdd / sod
    columns, rows = xtek.integer("DetectorPixelsX"), xtek.integer("DetectorPixelsY")
    pitch_x, pitch_y = xtek.number("DetectorPixelSizeX"), xtek.number("DetectorPixelSizeY")
    count = xtek.integer("Projections")
    if nikon_angles_deg is None:
        nikon_angles_deg = xtek.number("InitialAngle", 0.0) + xtek.number("AngularStep") * np.arange(count)
    offset_mm = xtek.optional("ObjectOffsetX")
    if offset_mm is None:
        top, bottom = xtek.number("CentreOfRotationTop", 0.0), xtek.number("CentreOfRotationBottom", 0.0)
        offset_mm = 0.5 * (top + bottom) / magnification
    det_x, det_y = xtek.number("DetectorOffsetX", 0.0), xtek.number("DetectorOffsetY", 0.0)
    if det_x or det_y:
        warnings.append(f"{xtek.path.name}: DetectorOffsetX/Y = {det_x}, {det_y} mm applied with an assumed sign")
    for key in ("ObjectRoll", "ObjectTilt"):
        angle = xtek.optional(key)
        if angle is not None and abs(angle) > TILT_WARN_DEG:
            warnings.append(f"{xtek.path.name}: {key} = {angle} deg is not modelled (the axis is taken as vertical)")
    material, thickness = xtek.keys.get("Filter_Material", "").strip(), xtek.optional("Filter_ThicknessMM")
    filter_name = f"{material} {thickness:g} mm".strip() if material and thickness else (material or None)
    conditions = {"voltage_kv": xtek.optional("XraykV"), "current_ua": xtek.optional("XrayuA"), "filter": filter_name}
    return {
        "format_version": 1,
        "role": role,
        "sample_id": sample_id or xtek.text("Name", xtek.path.stem) or xtek.path.stem,
        "values": "intensity",
        "geometry": {
            "source_to_axis_mm": sod,
            "source_to_detector_mm": sdd,
            "detector_shape": [rows, columns],
            "detector_pixel_mm": [pitch_y, pitch_x],
            "detector_offset_px": [det_y / pitch_y, (-offset_mm * magnification - det_x) / pitch_x],
            "angles_deg": [float(180.0 - a) for a in nikon_angles_deg],
        },
        "sample_position_mm": [0.0, 0.0, 0.0],
        "conditions": {k: v for k, v in conditions.items() if v is not None},
        "source_format": "nikon-xtekct",
        "white_level": xtek.number("WhiteLevel"),
    }


def to_contract_columns(projection: np.ndarray) -> np.ndarray:
    """Nikon column order (column 0 at +x) to ours (columns increase along +x)."""
    return projection[..., ::-1]


def projection_files(xtek: XtekFile) -> list[Path]:
    """The projection TIFFs ``<Name>_NNNN.tif`` of the scan, by number."""
    folder = xtek.path.parent / xtek.keys.get("InputFolderName", "").strip()
    name = xtek.text("Name", xtek.path.stem)
    pattern = re.compile(rf"^{re.escape(name)}_(\d+)\.tiff?$", re.IGNORECASE)
    numbered = sorted((int(m.group(1)), p) for p in folder.glob("*") if (m := pattern.match(p.name)))
    return [p for _, p in numbered]


def read_xtekct_metadata(
    path: Path,
    role: Literal["scout", "zoom"],
    sample_id: str | None = None,
    warnings: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> ScanMetadata:
    """Typed metadata of an ``.xtekct`` scan (the angle file is used when present)."""
    xtek = XtekFile(path)
    warnings = [] if warnings is None else warnings
    count = xtek.integer("Projections")
    found = read_angle_file(xtek.path.parent, xtek.text("Name", xtek.path.stem), count)
    angles = None
    if found is not None:
        angle_path, angles = found
        nominal = xtek.number("InitialAngle", 0.0) + xtek.number("AngularStep") * np.arange(count)
        worst = float(np.max(np.abs(angles - nominal)))
        if worst > ANGLE_FILE_TOLERANCE_DEG:
            warnings.append(
                f"{angle_path.name}: angles differ from InitialAngle + i*AngularStep by up to {worst:.2f} deg; "
                "the file's are used"
            )
    return validated(merged(contract_document(xtek, role, sample_id, angles, warnings), overrides), xtek.path)


def read_xtekct(
    path: Path, role: Literal["scout", "zoom"], sample_id: str | None = None, overrides: dict[str, Any] | None = None
) -> Scan:
    """An ``.xtekct`` scan as a :class:`Scan` (transmission = counts / WhiteLevel)."""
    path = Path(path)
    warnings: list[str] = []
    meta = read_xtekct_metadata(path, role, sample_id, warnings, overrides)
    files = projection_files(XtekFile(path))
    count, shape = meta.geometry.n_angles, meta.geometry.detector_shape
    if len(files) != count:
        raise InputError(path, f"{len(files)} of {count} projection TIFFs found")
    raw = np.empty((count, *shape), dtype=np.float32)
    for index, file in enumerate(files):
        try:
            page = np.squeeze(tifffile.imread(file))
        except (tifffile.TiffFileError, ValueError, OSError) as error:
            raise InputError(file, f"not a readable TIFF: {error}") from None
        if page.shape != shape:
            raise InputError(file, f"shape {page.shape}, DetectorPixelsY/X say {shape}")
        raw[index] = to_contract_columns(page)
    white = float(meta.model_extra["white_level"])
    if white <= 0:
        raise InputError(path, f"[{SECTION}] WhiteLevel = {white} must be positive")
    flat = np.full(shape, white, dtype=np.float32)
    return Scan(
        meta=meta, line_integrals=line_integrals(raw, flat, None, path, warnings), source=path, warnings=warnings
    )
