"""``scoutzoom process PAIR_DIR`` or ``scoutzoom process --scout A --zoom B``: process one pair in the foreground.

A pair is a folder holding ``scout/`` and ``zoom/``, or two paths of any
supported format (contract-v1 scan folder, ZEISS .txrm/.txm, Nikon .xtekct,
NXtomo, a volume file); bad input is refused before anything is written, with
the file and the problem named.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daemon import exit_codes

if TYPE_CHECKING:
    from pipeline.pair.sources import PairSources


def add_pipeline_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``process`` and ``demo``."""
    parser.add_argument("--config", type=Path, help="TOML file; its [pipeline] table overrides the preset")
    parser.add_argument(
        "--preset",
        choices=["small", "medium", "standard"],
        help="small: smoke-test network (demo, tests); medium: the best CPU network (about 15 min of training on 2 "
        "cores); "
        "standard: paper-scale GPU",
    )
    parser.add_argument(
        "--format",
        choices=["auto", "ome-tiff", "ome-zarr", "both"],
        help="recovered volume as one OME-TIFF, an OME-Zarr (chunked, with a pyramid) or both; auto (default): "
        "OME-Zarr above pipeline.output.auto_zarr_above_gb",
    )
    parser.add_argument(
        "--dtype",
        choices=["float32", "uint16"],
        help="recovered values as float32 (default) or uint16 with the linear scale recorded in the file",
    )
    parser.add_argument(
        "--keep-intermediates", action="store_true", help="also write zoom_fdk, scout_fdk and scout_registered volumes"
    )
    parser.add_argument(
        "--model-cache",
        type=Path,
        help="model cache directory (reuse models trained under the same conditions; "
        "default: $SCOUTZOOM_STATE_DIR/models or ~/.local/state/scoutzoom/models)",
    )
    parser.add_argument("--no-cache", action="store_true", help="always train; do not consult or fill the model cache")
    parser.add_argument("--force", action="store_true", help="process again even if DONE says it was processed")
    parser.add_argument(
        "--region-centre",
        type=float,
        nargs=3,
        metavar=("X", "Y", "Z"),
        help="centre of the region to recover, mm, scout frame (default: the field of view's centre)",
    )
    parser.add_argument(
        "--region-size",
        type=float,
        nargs=3,
        metavar=("X", "Y", "Z"),
        help="size of the region to recover, mm (default: the whole scout field of view)",
    )
    parser.add_argument(
        "--voxel-budget", type=int, help="largest output in voxels; the region shrinks about its centre to fit"
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "process", help="process one scout/zoom pair (a pair folder, or --scout and --zoom in any format) end to end"
    )
    parser.add_argument("pair_dir", type=Path, nargs="?", help="directory holding scout/ and zoom/")
    parser.add_argument(
        "--scout", type=Path, help="the scout scan, any supported format (file or folder); needs --zoom, no PAIR_DIR"
    )
    parser.add_argument("--zoom", type=Path, help="the zoom scan, any supported format (file or folder)")
    parser.add_argument(
        "--out", type=Path, help="output directory (default: <pair>/recovered, or <zoom>.recovered beside the zoom)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print the final summary as one JSON object (progress stays on stderr)"
    )
    add_pipeline_options(parser)
    parser.set_defaults(func=run)


def load_process_config(args: argparse.Namespace):
    """ProcessConfig from --config's [pipeline] table, --preset and the flags."""
    from models.errors import ConfigError
    from pipeline.config import build_process_config

    overrides: dict = {}
    if args.config is not None:
        try:
            document = tomllib.loads(Path(args.config).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(str(args.config), [str(error)]) from None
        overrides = dict(document.get("pipeline", {}))
    if args.keep_intermediates:
        overrides.setdefault("output", {})["keep_intermediates"] = True
    if getattr(args, "format", None):
        overrides.setdefault("output", {})["format"] = args.format
    if getattr(args, "dtype", None):
        overrides.setdefault("output", {})["dtype"] = args.dtype
    region = {
        key: value
        for key, value in (
            ("centre_mm", getattr(args, "region_centre", None)),
            ("size_mm", getattr(args, "region_size", None)),
            ("voxel_budget", getattr(args, "voxel_budget", None)),
        )
        if value is not None
    }
    if region:
        overrides.setdefault("output", {}).setdefault("region", {}).update(region)
    if args.no_cache:
        overrides.setdefault("cache", {})["enabled"] = False
    elif args.model_cache is not None:
        overrides.setdefault("cache", {})["directory"] = str(args.model_cache)
    elif overrides.get("cache", {}).get("enabled", True) and not overrides.get("cache", {}).get("directory"):
        from models.cache.paths import resolve_cache_dir

        overrides.setdefault("cache", {})["directory"] = str(resolve_cache_dir(None))
    from pydantic import ValidationError

    try:
        return build_process_config(args.preset, overrides)
    except ValidationError as error:
        from models.errors import format_validation_error

        raise ConfigError(str(args.config or "command line"), [format_validation_error(error)]) from None


def summary(pair_dir: Path | str, outcome) -> dict[str, Any]:
    """The final summary of one pair (``--json``): outcome, output paths and, when done, the report's headlines."""
    out_dir = Path(outcome.out_dir)
    result: dict[str, Any] = {
        "pair": str(pair_dir),
        "status": outcome.status,
        "out_dir": str(out_dir),
        "message": outcome.message,
    }
    if outcome.status == "failed":
        result |= {"stage": outcome.stage, "failed_json": str(out_dir / "FAILED.json")}
        return result
    report_path = outcome.report_path or out_dir / "report.json"
    result |= {
        "recovered": str(out_dir / "recovered.ome.tif"),
        "report": str(report_path),
        "previews": str(out_dir / "previews"),
        "voxels_recovered": outcome.voxels_recovered,
    }
    try:
        report = json.loads(Path(report_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return result
    model = report.get("model", {})
    result["model"] = {key: model.get(key) for key in ("id", "reused", "runtime")}
    for key in ("summary", "quality"):
        if key in report:
            result[key] = report[key]
    trust = report.get("trust", {})
    if trust:
        result["trust"] = {"flagged": trust.get("flagged"), "reasons": trust.get("reasons", [])}
    return result


def run_pair(pair_dir: Path | PairSources, out_dir: Path, config, force: bool, as_json: bool = False) -> int:
    from daemon.commands.progress_bars import TerminalProgress
    from pipeline.pair.process import process_pair

    outcome = process_pair(pair_dir, out_dir, config, progress=TerminalProgress(), force=force)
    name = str(pair_dir) if isinstance(pair_dir, Path) else f"{pair_dir.scout} + {pair_dir.zoom}"
    code = exit_codes.FAILED if outcome.status == "failed" else exit_codes.OK
    if as_json:
        print(json.dumps(summary(name, outcome), indent=2))
    elif outcome.status == "skipped":
        print(f"{name}: {outcome.message} -> {outcome.out_dir}")
    elif outcome.status == "failed":
        print(f"{name}: FAILED at stage {outcome.stage}: {outcome.message}\n  see {outcome.out_dir / 'FAILED.json'}")
    else:
        print(
            f"{name}: done -> {outcome.out_dir}\n  recovered volume: {outcome.out_dir / 'recovered.ome.tif'}\n"
            f"  report: {outcome.report_path}\n  previews: {outcome.out_dir / 'previews'}"
        )
    return code


def missing_input(pair_dir: Path) -> str | None:
    """Why ``pair_dir`` cannot be a pair at all (checked before anything is created), or None."""
    if not pair_dir.exists():
        return f"{pair_dir}: no such directory"
    if not pair_dir.is_dir():
        return f"{pair_dir}: not a directory (give the folder holding scout/ and zoom/)"
    absent = [name for name in ("scout", "zoom") if not (pair_dir / name).is_dir()]
    if len(absent) == 2:
        return f"{pair_dir}: not a pair (no scout/ or zoom/ inside)"
    return None


def two_paths_problem(scout: Path | None, zoom: Path | None, pair_dir: Path | None) -> str | None:
    """Why ``--scout``/``--zoom`` cannot be a pair (both given, no PAIR_DIR, each a readable supported scan whose
    declared role fits), read from the headers only; None when they can."""
    from models.errors import ScoutzoomError
    from pipeline.pair.sources import PairSources, check_roles

    if pair_dir is not None:
        return "give either PAIR_DIR or --scout and --zoom, not both"
    if scout is None or zoom is None:
        return f"--{'zoom' if zoom is None else 'scout'} missing (--scout and --zoom go together)"
    try:
        check_roles(PairSources.from_paths(scout, zoom))
    except ScoutzoomError as error:
        return str(error)
    except (OSError, ValueError) as error:  # a library refusing a broken file outside our checks
        return f"{scout} / {zoom}: cannot read: {error}"
    return None


def default_out(zoom: Path) -> Path:
    """``<zoom folder>/<zoom name without suffixes>.recovered``: beside the zoom, never inside a vendor's folder."""
    zoom = Path(zoom).resolve()
    return zoom.parent / f"{zoom.name.split('.')[0] or zoom.name}.recovered"


def run(args: argparse.Namespace) -> int:
    if args.scout is not None or args.zoom is not None:
        problem = two_paths_problem(args.scout, args.zoom, args.pair_dir)
    elif args.pair_dir is None:
        problem = "give a pair folder (PAIR_DIR) or --scout and --zoom"
    else:
        problem = missing_input(args.pair_dir)
    if problem is not None:
        print(f"scoutzoom process: error: {problem}", file=sys.stderr)
        return exit_codes.USAGE
    config = load_process_config(args)
    if args.pair_dir is not None:
        out_dir = args.out if args.out is not None else args.pair_dir / "recovered"
        return run_pair(args.pair_dir, out_dir, config, args.force, as_json=args.json)
    from pipeline.pair.sources import PairSources

    pair = PairSources.from_paths(args.scout, args.zoom)
    out_dir = args.out if args.out is not None else default_out(args.zoom)
    return run_pair(pair, out_dir, config, args.force, as_json=args.json)
