"""What was read from a source, as plain data (``scoutzoom inspect FILE``): check a file before the daemon does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.errors import InputError
from pipeline.acquisition.contract import ScanMetadata
from pipeline.acquisition.formats.completeness import check_source
from pipeline.acquisition.formats.registry import Role, Source, detect, read_metadata_any
from pipeline.acquisition.volume_files import read_volume_file


def describe(path: Path, role: Role | None = None) -> dict[str, Any]:
    """Format, completeness, geometry (or volume shape and voxel), stage position and conditions of ``path``.

    Reads metadata only, except for volume sources, whose array is read to
    report its shape. Raises :class:`InputError` when the path is none of ours.
    """
    source = detect(Path(path))
    if source is None:
        raise InputError(path, "not a supported scan (contract v1 folder, .txrm, .txm, .xtekct, NXtomo, volume file)")
    completeness = check_source(source)
    report: dict[str, Any] = {
        "path": str(source.path),
        "format": source.kind,
        "complete": completeness.complete,
        "problems": completeness.reasons,
    }
    if not completeness.complete:
        return report
    meta = read_metadata_any(source, role=role or "zoom")
    report.update(
        role=meta.role if role or source.kind in ("contract", "volume-scan") else None,
        sample_id=meta.sample_id,
        sample_position_mm=list(meta.sample_position_mm),
        conditions=meta.conditions.model_dump(exclude_none=True),
    )
    if isinstance(meta, ScanMetadata):
        g = meta.geometry
        report.update(
            data="projections",
            values=meta.values,
            geometry=g.model_dump(mode="json"),
            projections=[g.n_angles, *g.detector_shape],
            angular_coverage_deg=round(g.angular_coverage_deg(), 4),
            magnification=round(g.magnification, 6),
            voxel_mm=meta.voxel_mm,
            field_of_view_mm={"radius": g.field_of_view_radius_mm(), "height": g.field_of_view_height_mm()},
        )
    else:
        report.update(data="volume", **_volume_part(source, meta.volume.model_dump(exclude_none=True)))
    return report


def _volume_part(source: Source, spec: dict[str, Any]) -> dict[str, Any]:
    file = source.path / spec["file"] if source.kind == "volume-scan" else source.path
    stored = read_volume_file(file)
    return {
        "volume": spec,
        "volume_shape_zyx": list(stored.data.shape),
        "voxel_in_file_zyx_mm": list(stored.voxel_zyx_mm) if stored.voxel_zyx_mm else None,
        "dtype": str(stored.data.dtype),
        "file_kind": stored.kind,
    }
