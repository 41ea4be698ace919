"""NeXus NXtomo (HDF5, ``h5py``): cone-beam entries onto the contract-v1 frame.

Read from the NXtomo application definition (the published NeXus description)
and the field names ESRF's ``nxtomo`` package writes: an ``NXentry`` whose
``definition`` is ``NXtomo``; ``instrument/detector/data`` ``[frame, row,
column]`` with ``image_key`` (0 projection, 1 flat, 2 dark, 3 invalid;
``image_key_control`` as fallback), ``x_pixel_size``, ``y_pixel_size``,
``distance`` (sample to detector) and ``x/y_rotation_axis_pixel_position``;
``instrument/source/distance`` (source relative to the sample, negative
upstream); ``sample/rotation_angle`` and ``sample/x|y|z_translation``;
``instrument/beam/incident_energy`` (or ``beam/``). Lengths carry a ``units``
attribute, which is required.

NXtomo describes parallel-beam synchrotron scans first: an entry without a
finite source distance is refused (FDK here is cone beam), never guessed.
The frame mapping is :func:`contract_document`, the one place for it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import numpy as np

from models.errors import InputError
from pipeline.acquisition.contract import ScanMetadata
from pipeline.acquisition.formats.common import line_integrals, merged, validated
from pipeline.acquisition.scan import Scan

PROJECTION, FLAT, DARK = 0, 1, 2
LENGTH_MM = {
    "m": 1e3,
    "metre": 1e3,
    "meter": 1e3,
    "cm": 10.0,
    "mm": 1.0,
    "um": 1e-3,
    "µm": 1e-3,
    "micron": 1e-3,
    "micrometer": 1e-3,
    "nm": 1e-6,
}
ANGLE_DEG = {
    "degree": 1.0,
    "degrees": 1.0,
    "deg": 1.0,
    "rad": 180.0 / math.pi,
    "radian": 180.0 / math.pi,
    "radians": 180.0 / math.pi,
}


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _text(value[()])
    return str(value)


def find_entry(handle: Any, path: Path, entry: str | None = None) -> Any:
    """The NXtomo entry (``entry`` by name, else the only one)."""
    import h5py

    found = []
    for name, group in handle.items():
        if not isinstance(group, h5py.Group):
            continue
        definition = group.get("definition")
        text = (
            _text(definition[()]) if isinstance(definition, h5py.Dataset) else _text(group.attrs.get("definition", ""))
        )
        if text.strip() == "NXtomo":
            found.append(name)
    if entry is not None:
        if entry not in found:
            raise InputError(path, f"no NXtomo entry {entry!r} (found {found or 'none'})")
        return handle[entry]
    if len(found) != 1:
        raise InputError(path, f"{len(found)} NXtomo entries ({', '.join(found) or 'none'}); name the one to read")
    return handle[found[0]]


class EntryReader:
    """Typed access to the fields of one NXtomo entry; errors name the file and the HDF5 path."""

    def __init__(self, entry: Any, path: Path) -> None:
        self.entry, self.path = entry, path

    def dataset(self, name: str) -> Any:
        import h5py

        item = self.entry.get(name)
        if not isinstance(item, h5py.Dataset):
            raise InputError(self.path, f"{self.entry.name}/{name} missing")
        return item

    def has(self, name: str) -> bool:
        return name in self.entry

    def array(self, name: str) -> np.ndarray:
        try:
            return np.asarray(self.dataset(name)[()], dtype=float)
        except (OSError, ValueError, TypeError) as error:
            raise InputError(self.path, f"{self.entry.name}/{name} unreadable: {error}") from None

    def scaled(self, name: str, table: dict[str, float], default_unit: str | None = None) -> np.ndarray:
        """``name`` in mm (lengths) or degrees (angles), from its ``units`` attribute."""
        unit = _text(self.dataset(name).attrs.get("units", default_unit or "")).strip()
        if not unit:
            raise InputError(self.path, f"{self.entry.name}/{name} has no units attribute")
        factor = table.get(unit) or table.get(unit.lower())
        if factor is None:
            raise InputError(self.path, f"{self.entry.name}/{name}: unknown unit {unit!r}")
        values = self.array(name) * factor
        if not np.all(np.isfinite(values)):
            raise InputError(self.path, f"{self.entry.name}/{name} holds non-finite values")
        return values

    def length_mm(self, name: str) -> float:
        return float(np.mean(self.scaled(name, LENGTH_MM)))


def image_keys(reader: EntryReader, frames: int) -> np.ndarray:
    for name in ("instrument/detector/image_key", "instrument/detector/image_key_control"):
        if reader.has(name):
            keys = reader.array(name).astype(int)
            if keys.shape != (frames,):
                raise InputError(reader.path, f"{reader.entry.name}/{name} has {keys.size} values for {frames} frames")
            return keys
    return np.zeros(frames, dtype=int)  # no key: every frame a projection


def contract_document(
    reader: EntryReader,
    keys: np.ndarray,
    frame_shape: tuple[int, int],
    role: Literal["scout", "zoom"],
    sample_id: str | None,
    warnings: list[str],
) -> dict[str, Any]:
    """The one place where the NXtomo frame and units become contract v1 (a ``scan.json`` document).

    - SOD = |source/distance|, SDD = SOD + detector/distance (mm from units).
    - pixel pitch ``[y, x]`` from y/x_pixel_size; images taken as stored, row 0
      at the top and columns along +x. ASSUMED: NeXus's McStas frame would
      put detector x to the left seen from the source; files in practice hold
      images as displayed, and ``nxtomo``'s flip transformations are reported,
      not applied.
    - x_rotation_axis_pixel_position (absolute column of the axis, per
      ``nxtomo``) becomes ``detector_offset_px[1]`` = it minus (columns-1)/2.
    - rotation_angle of the projection frames is our θ. ASSUMED: right-handed
      about the vertical, as ours.
    - stage: sample point at the volume centre = minus the mean translation,
      McStas (x left, y up, z downstream) to ours: (x_t, -z_t, -y_t). ASSUMED.
    """
    projections = keys == PROJECTION
    if not reader.has("instrument/source/distance"):
        raise InputError(
            reader.path,
            f"{reader.entry.name}/instrument/source/distance missing: "
            "a parallel-beam entry; scoutzoom reconstructs cone beam only",
        )
    sod = abs(reader.length_mm("instrument/source/distance"))
    odd = abs(reader.length_mm("instrument/detector/distance"))
    if not (math.isfinite(sod) and sod > 0 and odd > 0):
        raise InputError(
            reader.path, f"source distance {sod} mm / detector distance {odd} mm: not a cone-beam geometry"
        )
    pitch_y = reader.length_mm("instrument/detector/y_pixel_size")
    pitch_x = reader.length_mm("instrument/detector/x_pixel_size")
    angles = reader.scaled("sample/rotation_angle", ANGLE_DEG, default_unit="degree")
    if angles.shape != keys.shape:
        raise InputError(
            reader.path, f"{reader.entry.name}/sample/rotation_angle has {angles.size} values for {keys.size} frames"
        )
    offset_col = 0.0
    if reader.has("instrument/detector/x_rotation_axis_pixel_position"):
        offset_col = (
            float(reader.array("instrument/detector/x_rotation_axis_pixel_position")) - (frame_shape[1] - 1) / 2.0
        )
    if "transformations" in reader.entry.get("instrument/detector", {}):
        warnings.append(f"{reader.path.name}: detector transformations (image flips) present but not applied")
    translation = []
    for axis in ("x", "y", "z"):
        name = f"sample/{axis}_translation"
        values = np.atleast_1d(reader.scaled(name, LENGTH_MM)) if reader.has(name) else np.zeros(1)
        translation.append(float(np.mean(values[projections] if values.size == keys.size else values)))
    energy = None
    for name in ("instrument/beam/incident_energy", "beam/incident_energy", "instrument/source/energy"):
        if reader.has(name):
            energy = float(np.mean(reader.array(name)))
            break
    name_field = "sample/name"
    default_id = _text(reader.dataset(name_field)[()]) if reader.has(name_field) else reader.path.stem
    return {
        "format_version": 1,
        "role": role,
        "sample_id": sample_id or default_id,
        "values": "intensity",
        "geometry": {
            "source_to_axis_mm": sod,
            "source_to_detector_mm": sod + odd,
            "detector_shape": list(frame_shape),
            "detector_pixel_mm": [pitch_y, pitch_x],
            "detector_offset_px": [0.0, offset_col],
            "angles_deg": [float(a) for a in angles[projections]],
        },
        "sample_position_mm": [translation[0], -translation[2], -translation[1]],
        "conditions": {"energy_kev": energy} if energy is not None else {},
        "source_format": "nxtomo",
        "nxtomo_entry": reader.entry.name,
    }


def _open(path: Path) -> Any:
    import h5py

    if not path.is_file():
        raise InputError(path, "missing")
    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise InputError(path, f"not a readable HDF5 file: {error}") from None


def read_nxtomo_metadata(
    path: Path,
    role: Literal["scout", "zoom"],
    sample_id: str | None = None,
    entry: str | None = None,
    warnings: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> ScanMetadata:
    """Typed metadata of an NXtomo entry (no image data read)."""
    path = Path(path)
    warnings = [] if warnings is None else warnings
    with _open(path) as handle:
        reader = EntryReader(find_entry(handle, path, entry), path)
        data = reader.dataset("instrument/detector/data")
        if data.ndim != 3:
            raise InputError(
                path,
                f"{reader.entry.name}/instrument/detector/data has shape {data.shape}, expected [frame, row, column]",
            )
        keys = image_keys(reader, data.shape[0])
        if not np.any(keys == PROJECTION):
            raise InputError(path, f"{reader.entry.name}: no projection frames (image_key 0)")
        document = contract_document(reader, keys, (int(data.shape[1]), int(data.shape[2])), role, sample_id, warnings)
        return validated(merged(document, overrides), path)


def read_nxtomo(
    path: Path,
    role: Literal["scout", "zoom"],
    sample_id: str | None = None,
    entry: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> Scan:
    """An NXtomo entry as a :class:`Scan`: projections normalised by the mean flat and dark frames."""
    path = Path(path)
    warnings: list[str] = []
    meta = read_nxtomo_metadata(path, role, sample_id, entry, warnings, overrides)
    with _open(path) as handle:
        reader = EntryReader(handle[meta.model_extra["nxtomo_entry"]], path)
        data = reader.dataset("instrument/detector/data")
        keys = image_keys(reader, data.shape[0])
        try:
            raw = np.asarray(data[np.flatnonzero(keys == PROJECTION)], dtype=np.float32)
            flats = np.asarray(data[np.flatnonzero(keys == FLAT)], dtype=np.float32) if np.any(keys == FLAT) else None
            darks = np.asarray(data[np.flatnonzero(keys == DARK)], dtype=np.float32) if np.any(keys == DARK) else None
        except (OSError, ValueError) as error:
            raise InputError(
                path, f"{reader.entry.name}/instrument/detector/data unreadable (truncated?): {error}"
            ) from None
    if flats is None and role == "zoom":
        raise InputError(
            path, f"{meta.model_extra['nxtomo_entry']}: no flat frames (image_key 1); a zoom scan needs them"
        )
    flat = None if flats is None else flats.mean(axis=0)
    dark = None if darks is None else darks.mean(axis=0)
    return Scan(
        meta=meta, line_integrals=line_integrals(raw, flat, dark, path, warnings), source=path, warnings=warnings
    )
