"""``scoutzoom simulate OUT_DIR``: write a simulated scout/zoom pair and its truth.

``OUT_DIR/pair/{scout,zoom}/`` follow acquisition contract v1 (point a watch
root or ``scoutzoom process`` at ``OUT_DIR/pair``); ``OUT_DIR/truth/`` holds
the phantom, the true geometry and voxelised truth volumes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from daemon import exit_codes


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("simulate", help="write a simulated foam scout/zoom pair with ground truth")
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    parser.add_argument("--ratio", type=float, default=3.0, help="zoom/scout resolution ratio R (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--detector-px", type=int, help="detector side of both scans, pixels (default 128)")
    parser.add_argument("--angles", type=int, help="projections per scan over 360 degrees (default 180)")
    parser.add_argument(
        "--photons", type=float, help="flat-field counts per pixel of both scans (default scout 5000, zoom 10000)"
    )
    parser.add_argument("--pores", type=int, help="number of pores (default 1000)")
    parser.add_argument("--porosity", type=float, help="pore volume fraction (default 0.2)")
    parser.add_argument(
        "--stage-error-mm", type=float, help="size of the recorded zoom position error (default 3 zoom voxels)"
    )
    parser.add_argument(
        "--rotation-deg", type=float, nargs=3, metavar=("RX", "RY", "RZ"), help="remount rotation vector between scans"
    )
    parser.add_argument("--scale-error", type=float, help="recorded zoom source_to_axis = true * (1 + E)")
    parser.add_argument(
        "--zoom-by", choices=["geometry", "objective"], help="how the zoom magnifies (default geometry)"
    )
    parser.add_argument("--layout", choices=["stack", "files"], help="projections as one stack or one file each")
    parser.add_argument("--no-truth-volumes", action="store_true", help="skip the voxelised truth TIFFs")
    parser.add_argument("--force", action="store_true", help="replace OUT_DIR/pair and OUT_DIR/truth if present")
    parser.set_defaults(func=run)


def build_config(args: argparse.Namespace) -> Any:
    """A validated :class:`SimulationConfig` from the command line (unset flags keep defaults)."""
    from pipeline.simulate import SimulationConfig

    base = SimulationConfig()
    values: dict[str, Any] = {"ratio": args.ratio, "seed": args.seed}
    scan_overrides: dict[str, Any] = {}
    if args.detector_px is not None:
        scan_overrides["detector_px"] = args.detector_px
    if args.angles is not None:
        scan_overrides["angles"] = args.angles
    if args.photons is not None:
        scan_overrides["photons"] = args.photons
    for role in ("scout", "zoom"):
        values[role] = getattr(base, role).model_dump() | scan_overrides
    phantom = base.phantom.model_dump()
    if args.pores is not None:
        phantom["pores"] = args.pores
    if args.porosity is not None:
        phantom["porosity"] = args.porosity
    values["phantom"] = phantom
    optional = {
        "stage_error_mm": args.stage_error_mm,
        "remount_rotation_deg": tuple(args.rotation_deg) if args.rotation_deg else None,
        "zoom_scale_error": args.scale_error,
        "zoom_by": args.zoom_by,
        "layout": args.layout,
    }
    values.update({key: value for key, value in optional.items() if value is not None})
    values["truth_volumes"] = not args.no_truth_volumes
    return SimulationConfig.model_validate(values)


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from models.events import ProgressEvent
    from pipeline.simulate import simulate_pair

    try:
        config = build_config(args)
    except ValidationError as error:
        print(f"scoutzoom simulate: invalid options: {error}", file=sys.stderr)
        return exit_codes.USAGE
    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(desc="simulate", unit="step", file=sys.stderr)

    def show(event: ProgressEvent) -> None:
        if bar is not None and event.kind == "progress" and event.total:
            bar.total = event.total
            bar.n = event.done or 0
            bar.refresh()

    try:
        truth = simulate_pair(args.out_dir, config, progress=show, overwrite=args.force)
    except ValueError as error:  # physically impossible settings (sample does not fit, pores do not pack)
        print(f"scoutzoom simulate: {error}", file=sys.stderr)
        return exit_codes.USAGE
    finally:
        if bar is not None:
            bar.close()
    print(
        f"wrote {args.out_dir / 'pair'} (scout voxel {truth.scout_voxel_mm:g} mm, zoom voxel "
        f"{truth.zoom_voxel_true_mm:g} mm, "
        f"{truth.n_pores} pores, porosity {truth.porosity:.3f}) and truth in {args.out_dir / 'truth'}"
    )
    return exit_codes.OK
