"""What was read from a source or a pair, as plain data (``scoutzoom inspect PATH``): check a file before the daemon.

A *source* is anything :func:`~.registry.detect` recognises (a contract-v1 scan
folder, ``.txrm``, ``.txm``, ``.xtekct`` or its folder, NXtomo, a volume file);
a *pair* is a folder holding ``scout/`` and ``zoom/``, each one source. Every
format is described with the same keys: ``format``, ``role`` (None where the
file does not say and no pair folder or sidecar gives it), ``sample_id``,
``data``, ``sample_position_mm`` (x, y, z mm), ``conditions``, ``complete`` and
``problems``; projection scans add ``values``, ``voxel_mm``,
``projection_shape`` (angles, rows, columns) and a ``geometry`` summary (mm,
degrees), volume scans ``volume``, ``shape_zyx`` and ``voxel_zyx_mm``.
Metadata and headers only: no image data is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.errors import InputError
from pipeline.acquisition.contract import ScanMetadata, VolumeScanMetadata, pair_offset_mm
from pipeline.acquisition.formats.completeness import check_source
from pipeline.acquisition.formats.registry import Role, Source, detect, read_metadata_any, sidecar

SUPPORTED = "a contract-v1 scan folder, .txrm, .txm, .xtekct (or its folder), NXtomo .nx/.nxs/.h5, a volume file"
Metadata = ScanMetadata | VolumeScanMetadata


def describe(path: Path, role: Role | None = None) -> dict[str, Any]:
    """The description of one source (keys in the module docstring); :class:`InputError` when it is none of ours
    or its metadata cannot be read (the message names the file, the problem and any completeness problem)."""
    return describe_source(path, role)[0]


def describe_source(path: Path, role: Role | None = None) -> tuple[dict[str, Any], Metadata]:
    """(description, parsed metadata) of the source at ``path``; ``role`` is the pair folder's, if any."""
    source = detect(Path(path))
    if source is None:
        raise InputError(path, f"not a supported scan (expected {SUPPORTED})")
    completeness = check_source(source)
    try:
        meta = read_metadata_any(source, role=role or "zoom")  # a placeholder role: reported only when declared
    except InputError as error:
        if completeness.complete:
            raise
        reasons = "; ".join(completeness.reasons)
        raise InputError(error.path, f"truncated or still being written ({reasons}); {error.problem}") from None
    info: dict[str, Any] = {
        "path": str(source.path),
        "format": source.kind,
        "role": meta.role if role or _declares_role(source) else None,
        "sample_id": meta.sample_id,
        "data": meta.data,
        "sample_position_mm": [float(v) for v in meta.sample_position_mm],
        "conditions": meta.conditions.model_dump(mode="json", exclude_none=True),
        "sample_class": meta.sample_class,
    }
    extra = {k: v for k, v in (meta.model_extra or {}).items() if k != "source_format"}
    if extra:
        info["vendor"] = extra
    if isinstance(meta, ScanMetadata):
        info |= _projection_part(meta)
        info["complete"], info["problems"] = completeness.complete, list(completeness.reasons)
    else:
        info |= _volume_part(source, meta, list(completeness.reasons))
    return info, meta


def _declares_role(source: Source) -> bool:
    """Whether the source itself says scout or zoom (``scan.json``, or a vendor file's sidecar)."""
    return source.kind in ("contract", "volume-scan") or "role" in sidecar(source.path)


def _projection_part(meta: ScanMetadata) -> dict[str, Any]:
    g = meta.geometry
    angles = g.angles()
    return {
        "values": meta.values,
        "voxel_mm": meta.voxel_mm,
        "projection_shape": [g.n_angles, *g.detector_shape],
        "geometry": {
            "detector_shape": list(g.detector_shape),
            "detector_pixel_mm": list(g.detector_pixel_mm),
            "detector_offset_px": list(g.detector_offset_px),
            "source_to_axis_mm": g.source_to_axis_mm,
            "source_to_detector_mm": g.source_to_detector_mm,
            "magnification": g.magnification,
            "projections": g.n_angles,
            "first_angle_deg": float(angles[0]),
            "last_angle_deg": float(angles[-1]),
            "angular_coverage_deg": g.angular_coverage_deg(),
            "field_of_view_diameter_mm": 2 * g.field_of_view_radius_mm(),
            "field_of_view_height_mm": g.field_of_view_height_mm(),
        },
    }


def _volume_part(source: Source, meta: VolumeScanMetadata, problems: list[str]) -> dict[str, Any]:
    """Shape and voxel size from the volume file's header; problems instead when it does not read."""
    from pipeline.acquisition.volume import resolve_voxel
    from pipeline.acquisition.volume_files import volume_header, volume_kind

    part: dict[str, Any] = {"volume": meta.volume.model_dump(mode="json", exclude_none=True)}
    file = source.path / meta.volume.file if source.kind == "volume-scan" else source.path
    if problems or not file.exists():
        return part | {"complete": False, "problems": problems or [f"{source.path.name}: {meta.volume.file} missing"]}
    try:
        shape, from_file = volume_header(file)
    except InputError as error:
        return part | {"complete": False, "problems": [f"{file.name}: {error.problem}"]}
    part |= {"file_kind": volume_kind(file), "shape_zyx": list(shape)}
    try:
        voxel = resolve_voxel(meta.volume, from_file, file)
    except InputError as error:
        return part | {"complete": False, "problems": [f"{file.name}: {error.problem}"]}
    return part | {
        "voxel_zyx_mm": list(voxel),
        "voxel_mm": sum(voxel) / 3,
        "complete": True,
        "problems": [],
    }


def is_pair_folder(path: Path) -> bool:
    """A folder holding ``scout/`` and ``zoom/`` (contract v1's pair layout; each may hold any supported source)."""
    return (Path(path) / "scout").is_dir() and (Path(path) / "zoom").is_dir()


def describe_pair(folder: Path) -> dict[str, Any]:
    """Both scans of a pair folder, the zoom's centre in the scout frame (x, y, z mm) and the voxel ratio."""
    folder = Path(folder)
    scout, scout_meta = describe_source(folder / "scout", role="scout")
    zoom, zoom_meta = describe_source(folder / "zoom", role="zoom")
    result: dict[str, Any] = {
        "path": str(folder),
        "scout": scout,
        "zoom": zoom,
        "zoom_centre_in_scout_mm": [float(v) for v in pair_offset_mm(scout_meta, zoom_meta)],
        "complete": scout["complete"] and zoom["complete"],
    }
    if "voxel_mm" in scout and "voxel_mm" in zoom:
        result["voxel_ratio"] = scout["voxel_mm"] / zoom["voxel_mm"]
    return result
