"""``scoutzoom inspect PATH [--json]``: what scoutzoom reads from a scan or pair folder, before the daemon sees it.

Prints the parsed ``scan.json`` (geometry with derived magnification, voxel and
field of view; or the volume entry), the conditions and sample position, and
whether the scan is complete (every projection present and readable); for a
pair also the zoom's centre in the scout frame and the voxel ratio. Exit 0 when
the metadata parses (complete or not), 1 when it does not, 2 when PATH is not a
scan or pair folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from daemon import exit_codes

MAX_METADATA_BYTES = 1 << 20


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("inspect", help="show what is read from a scan folder (scan.json) or a pair folder")
    parser.add_argument(
        "path", type=Path, help="a scan folder (holding scan.json) or a pair folder (holding scout/ and zoom/)"
    )
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.set_defaults(func=run)


def _metadata(scan_dir: Path):
    """The scan's parsed ``scan.json`` (projection or volume scan); ``InputError`` naming the field otherwise."""
    from pydantic import ValidationError

    from models.errors import InputError, format_validation_error
    from pipeline.acquisition.contract import parse_scan_document

    path = scan_dir / "scan.json"
    try:
        if path.stat().st_size > MAX_METADATA_BYTES:
            raise InputError(path, f"larger than {MAX_METADATA_BYTES} bytes")
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise InputError(path, f"cannot read: {error}") from None
    if not isinstance(document, dict):
        raise InputError(path, f"expected a JSON object, got {type(document).__name__}")
    try:
        return parse_scan_document(document)
    except ValidationError as error:
        raise InputError(path, format_validation_error(error)) from None


def describe_scan(scan_dir: Path) -> tuple[dict[str, Any], Any]:
    """(JSON-ready description, parsed metadata) of one scan folder."""
    from pipeline.acquisition.completeness import check_scan

    meta = _metadata(scan_dir)
    info: dict[str, Any] = {
        "path": str(scan_dir),
        "role": meta.role,
        "sample_id": meta.sample_id,
        "data": meta.data,
        "sample_position_mm": list(meta.sample_position_mm),
        "conditions": meta.conditions.model_dump(mode="json", exclude_none=True),
        "sample_class": meta.sample_class,
    }
    if meta.data == "volume":
        info["volume"] = meta.volume.model_dump(mode="json", exclude_none=True)
        return info | _volume_facts(scan_dir, meta), meta
    g = meta.geometry
    info |= {
        "values": meta.values,
        "voxel_mm": meta.voxel_mm,
        "geometry": {
            "detector_shape": list(g.detector_shape),
            "detector_pixel_mm": list(g.detector_pixel_mm),
            "source_to_axis_mm": g.source_to_axis_mm,
            "source_to_detector_mm": g.source_to_detector_mm,
            "magnification": g.magnification,
            "projections": g.n_angles,
            "angular_coverage_deg": g.angular_coverage_deg(),
            "field_of_view_diameter_mm": 2 * g.field_of_view_radius_mm(),
            "field_of_view_height_mm": g.field_of_view_height_mm(),
        },
    }
    completeness = check_scan(scan_dir)
    info["complete"], info["problems"] = completeness.complete, list(completeness.reasons)
    return info, meta


def _volume_facts(scan_dir: Path, meta) -> dict[str, Any]:
    """Shape and voxel size of a volume scan's file, read from its header; problems instead when it does not read."""
    from models.errors import InputError
    from pipeline.acquisition.volume import resolve_voxel
    from pipeline.acquisition.volume_files import volume_header

    path = scan_dir / meta.volume.file
    if not path.exists():
        return {"complete": False, "problems": [f"{scan_dir.name}: {meta.volume.file} missing"]}
    try:
        shape, from_file = volume_header(path)
        voxel = resolve_voxel(meta.volume, from_file, path)
    except InputError as error:
        return {"complete": False, "problems": [f"{scan_dir.name}: {error}"]}
    return {
        "shape_zyx": list(shape),
        "voxel_zyx_mm": list(voxel),
        "voxel_mm": sum(voxel) / 3,
        "complete": True,
        "problems": [],
    }


def describe(path: Path) -> dict[str, Any]:
    """A scan folder's description, or a pair's (both scans, the zoom's centre in the scout frame, the voxel ratio)."""
    from pipeline.acquisition.contract import pair_offset_mm

    if (path / "scan.json").is_file():
        return {"kind": "scan"} | describe_scan(path)[0]
    scout, scout_meta = describe_scan(path / "scout")
    zoom, zoom_meta = describe_scan(path / "zoom")
    result: dict[str, Any] = {
        "kind": "pair",
        "path": str(path),
        "scout": scout,
        "zoom": zoom,
        "zoom_centre_in_scout_mm": [float(v) for v in pair_offset_mm(scout_meta, zoom_meta)],
        "complete": scout["complete"] and zoom["complete"],
    }
    if "voxel_mm" in scout and "voxel_mm" in zoom:
        result["voxel_ratio"] = scout["voxel_mm"] / zoom["voxel_mm"]
    return result


def _scan_lines(info: dict[str, Any], indent: str = "") -> list[str]:
    lines = [f"{indent}{info['role']} scan of {info['sample_id']!r} ({info['data']}): {info['path']}"]
    if "geometry" in info:
        g = info["geometry"]
        lines += [
            f"{indent}  detector {g['detector_shape'][0]}x{g['detector_shape'][1]} px of "
            f"{g['detector_pixel_mm'][0]}x{g['detector_pixel_mm'][1]} mm, magnification {g['magnification']:.3g}, "
            f"{g['projections']} projections over {g['angular_coverage_deg']:.1f} deg, values {info['values']}",
            f"{indent}  voxel {info['voxel_mm'] * 1000:.3g} um, field of view {g['field_of_view_diameter_mm']:.3g} mm "
            f"across x {g['field_of_view_height_mm']:.3g} mm high",
        ]
    else:
        shape = "x".join(str(n) for n in info.get("shape_zyx", [])) or "?"
        voxel = f", voxel {info['voxel_mm'] * 1000:.3g} um" if "voxel_mm" in info else ""
        units = info["volume"].get("units", "-")
        lines.append(f"{indent}  volume {info['volume']['file']} ({shape} voxels z, y, x{voxel}), units {units}")
    position = [round(v, 4) for v in info["sample_position_mm"]]
    lines.append(f"{indent}  sample position {position} mm, conditions {info['conditions'] or '-'}")
    state = "complete" if info["complete"] else "INCOMPLETE: " + "; ".join(info["problems"])
    return [*lines, f"{indent}  {state}"]


def text(result: dict[str, Any]) -> str:
    if result["kind"] == "scan":
        return "\n".join(_scan_lines(result))
    lines = [f"pair {result['path']}"] + _scan_lines(result["scout"], "  ") + _scan_lines(result["zoom"], "  ")
    lines.append(
        f"  zoom centre in the scout frame {[round(v, 4) for v in result['zoom_centre_in_scout_mm']]} mm"
        + (f", voxel ratio {result['voxel_ratio']:.3g}:1" if "voxel_ratio" in result else "")
    )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    path: Path = args.path
    if not (path / "scan.json").is_file() and not ((path / "scout").is_dir() and (path / "zoom").is_dir()):
        print(
            f"scoutzoom inspect: error: {path}: neither a scan folder (scan.json) nor a pair folder (scout/ and zoom/)",
            file=sys.stderr,
        )
        return exit_codes.USAGE
    result = describe(path)
    print(json.dumps(result, indent=2) if args.json else text(result))
    return exit_codes.OK
