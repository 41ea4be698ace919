"""``scoutzoom inspect PATH [--json]``: what scoutzoom reads from a scan or a pair, before the daemon sees it.

PATH is any supported source (a contract-v1 scan folder, a ZEISS ``.txrm`` or
``.txm``, a Nikon ``.xtekct`` or its folder, an NXtomo ``.nx``/``.nxs``/``.h5``,
a volume file: OME-TIFF, TIFF, NRRD, MHA, NIfTI) or a pair folder (``scout/``
and ``zoom/``, each holding any of those). Prints the format, the geometry
(detector, distances, magnification, angles, voxel, field of view) and the
projection shape, or the volume's shape and voxel; the stage position and
conditions; and whether the scan is completely written. For a pair also the
zoom's centre in the scout frame and the voxel ratio. Exit 0 when the metadata
reads (complete or not), 1 when it does not (the error names the file and the
problem), 2 when PATH is no scan or pair.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from daemon import exit_codes

WHAT = (
    "a scan (scan folder with scan.json, .txrm, .txm, .xtekct or its folder, NXtomo .nx/.nxs/.h5, "
    "a volume file: OME-TIFF/TIFF/NRRD/MHA/NIfTI) or a pair folder (scout/ and zoom/)"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="show what is read from a scan file or folder (any supported format) or a pair folder",
        description="Show what scoutzoom reads from PATH: format, geometry, projection or volume shape, stage "
        "position, conditions, and whether it is completely written. Exit 0 when the metadata reads (complete or "
        "not), 1 when it does not, 2 when PATH is no scan or pair.",
    )
    parser.add_argument("path", type=Path, help=WHAT)
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.set_defaults(func=run)


def describe(path: Path) -> dict[str, Any] | None:
    """``{"kind": "scan", ...}`` or ``{"kind": "pair", ...}`` for ``path``; None when it is neither."""
    from pipeline.acquisition.formats.inspect import describe_pair, describe_source, is_pair_folder
    from pipeline.acquisition.formats.registry import detect

    if not (path / "scan.json").is_file() and is_pair_folder(path):
        return {"kind": "pair"} | describe_pair(path)
    if not path.exists() or detect(path) is None:
        return None
    return {"kind": "scan"} | describe_source(path)[0]


def _scan_lines(info: dict[str, Any], indent: str = "") -> list[str]:
    kind = f"{info['format']}, {info['data']}" + ("" if info["role"] else "; role not given: pair folder or sidecar")
    role = f"{info['role']} scan" if info["role"] else "scan"
    lines = [f"{indent}{role} of {info['sample_id']!r} ({kind}): {info['path']}"]
    if "geometry" in info:
        g = info["geometry"]
        offset = ", ".join(f"{v:.4g}" for v in g["detector_offset_px"])
        lines += [
            f"{indent}  projections {'x'.join(str(n) for n in info['projection_shape'])} (angles, rows, columns), "
            f"values {info['values']}",
            f"{indent}  detector {g['detector_shape'][0]}x{g['detector_shape'][1]} px of "
            f"{g['detector_pixel_mm'][0]:.4g}x{g['detector_pixel_mm'][1]:.4g} mm, offset ({offset}) px",
            f"{indent}  source to axis {g['source_to_axis_mm']:.6g} mm, to detector {g['source_to_detector_mm']:.6g} "
            f"mm, magnification {g['magnification']:.3g}",
            f"{indent}  angles {g['first_angle_deg']:.4g} .. {g['last_angle_deg']:.4g} deg, coverage "
            f"{g['angular_coverage_deg']:.1f} deg",
            f"{indent}  voxel {info['voxel_mm'] * 1000:.3g} um, field of view {g['field_of_view_diameter_mm']:.3g} mm "
            f"across x {g['field_of_view_height_mm']:.3g} mm high",
        ]
    else:
        shape = "x".join(str(n) for n in info.get("shape_zyx", [])) or "?"
        voxel = "x".join(f"{v * 1000:.3g}" for v in info.get("voxel_zyx_mm", []))
        voxel = f", voxel {voxel} um" if voxel else ""
        units = info["volume"].get("units", "-")
        lines.append(f"{indent}  volume {info['volume']['file']} ({shape} voxels z, y, x{voxel}), units {units}")
    position = [round(v, 4) + 0.0 for v in info["sample_position_mm"]]
    lines.append(f"{indent}  sample position {position} mm (x, y, z), conditions {info['conditions'] or '-'}")
    if info.get("vendor"):
        lines.append(f"{indent}  also read: {info['vendor']}")
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
    result = describe(path)  # InputError (a scan whose metadata does not read): exit 1, message naming the file
    if result is None:
        print(f"scoutzoom inspect: error: {path}: neither a scan nor a pair folder; expected {WHAT}", file=sys.stderr)
        return exit_codes.USAGE
    print(json.dumps(result, indent=2) if args.json else text(result))
    return exit_codes.OK
