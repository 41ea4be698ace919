"""``scoutzoom models list|show|verify|rm|export``: inspect and manage the model cache.

``export --format bioimageio`` writes a BioImage Model Zoo package (:mod:`models.bioimageio`).

The cache directory is ``--model-cache DIR``, else ``$SCOUTZOOM_STATE_DIR/models``,
else ``$XDG_STATE_HOME/scoutzoom/models``, else ``~/.local/state/scoutzoom/models``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from daemon import exit_codes

if TYPE_CHECKING:
    from models.cache.card import ScanConditions
    from models.cache.store import ModelCache


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="list, show, verify, remove or export cached models")
    parser.add_argument(
        "--model-cache", type=Path, default=None, metavar="DIR", help="cache directory (default: <state dir>/models)"
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="one line per cached model")
    listing.add_argument("--json", action="store_true", help="print the cards as a JSON list")
    show = actions.add_parser("show", help="print a model card")
    show.add_argument("model_id", metavar="ID")
    verify = actions.add_parser("verify", help="check cards, checksums and ONNX files (all models if no ID)")
    verify.add_argument("model_id", metavar="ID", nargs="?")
    verify.add_argument("--json", action="store_true", help="print one JSON object per model: id, ok, reason")
    remove = actions.add_parser("rm", help="delete a cached model")
    remove.add_argument("model_id", metavar="ID")
    export = actions.add_parser(
        "export", help="copy a cached model to DEST, as it is or as a BioImage Model Zoo package"
    )
    export.add_argument("model_id", metavar="ID")
    export.add_argument("dest", type=Path, metavar="DEST", help="new folder (or .zip with --format bioimageio)")
    export.add_argument(
        "--format",
        choices=["cache", "bioimageio"],
        default="cache",
        help="cache: card and files as stored; bioimageio: a bioimageio.spec 0.5 package (needs scoutzoom[bioimageio])",
    )
    export.add_argument(
        "--author",
        action="append",
        default=None,
        metavar="NAME",
        help="bioimageio: who trained it (repeatable; default: your login name)",
    )
    export.add_argument(
        "--license", default="CC-BY-4.0", metavar="SPDX", help="bioimageio: licence of the weights (default CC-BY-4.0)"
    )
    export.add_argument("--name", default=None, help="bioimageio: model name (default: from the conditions)")
    export.add_argument(
        "--sample",
        type=Path,
        default=None,
        metavar="VOLUME",
        help="bioimageio: [z, y, x] TIFF/.npy on the zoom grid (1/mm), e.g. scout_registered.ome.tif from "
        "--keep-intermediates, to cut the test input from (default: a synthetic foam slab)",
    )
    export.add_argument(
        "--cover",
        type=Path,
        default=None,
        metavar="IMAGE",
        help="bioimageio: cover image, e.g. a preview PNG (default: the test input beside the model's output)",
    )
    for sub in (listing, show, verify, remove, export):
        sub.add_argument("--model-cache", type=Path, default=argparse.SUPPRESS, metavar="DIR", help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def _conditions(scan: ScanConditions) -> str:
    c = scan.conditions
    return f"{c.voltage_kv}kV {c.filter} {c.objective} bin{c.binning} {scan.voxel_mm * 1000:.2f}um"


def _list(cache: ModelCache, as_json: bool) -> int:
    cards = cache.list()
    problems = cache.problems()
    if as_json:
        print(json.dumps([json.loads(card.to_json()) for card in cards], indent=2))
        return exit_codes.OK
    if not cards and not problems:
        print(f"no cached models in {cache.directory}")
    for card in cards:
        used = f"{card.last_used_utc:%Y-%m-%d %H:%M}" if card.last_used_utc else "never"
        print(
            f"{card.id}  ratio {card.voxel_ratio:.2f}  scout [{_conditions(card.scout)}]"
            f"  zoom [{_conditions(card.zoom)}]  class {card.sample_class or '-'}"
            f"  gain {card.validation.gain_db:+.2f} dB  used {card.use_count}x (last {used})"
        )
    for model_id, reason in problems.items():
        print(f"{model_id}  UNUSABLE: {reason}")
    return exit_codes.OK


def _verify(cache: ModelCache, model_id: str | None, as_json: bool = False) -> int:
    from models.cache.verify import CacheEntryRejected

    ids = [model_id] if model_id else cache.ids()
    results = []
    for each in ids:
        try:
            cache.verify(each)
            results.append({"id": each, "ok": True, "reason": None})
        except CacheEntryRejected as error:
            results.append({"id": each, "ok": False, "reason": error.reason})
    if as_json:
        print(json.dumps(results, indent=2))
    else:
        for result in results:
            print(f"{result['id']}  ok" if result["ok"] else f"{result['id']}  REJECTED: {result['reason']}")
    return exit_codes.OK if all(result["ok"] for result in results) else exit_codes.FAILED


def _export(cache: ModelCache, args: argparse.Namespace) -> int:
    if args.format == "cache":
        print(cache.export(args.model_id, args.dest))
        return exit_codes.OK
    import getpass

    from models.bioimageio import PackageOptions, export_bioimageio

    card = cache.get(args.model_id)
    cache.verify(args.model_id)  # never package a model whose files fail their checksums
    options = PackageOptions(
        authors=args.author or [getpass.getuser()],
        license=args.license,
        name=args.name,
        sample=args.sample,
        cover=args.cover,
        zip=args.dest.suffix == ".zip",
    )
    print(export_bioimageio(cache.path(args.model_id), card, args.dest, options))
    return exit_codes.OK


def run(args: argparse.Namespace) -> int:
    from models.cache.paths import resolve_cache_dir
    from models.cache.store import ModelCache

    cache = ModelCache(resolve_cache_dir(args.model_cache))
    try:
        if args.action == "list":
            return _list(cache, args.json)
        if args.action == "verify":
            return _verify(cache, args.model_id, args.json)
        if args.action == "export":
            return _export(cache, args)
        if args.action == "show":
            print(cache.get(args.model_id).to_json())
        elif args.action == "rm":
            cache.remove(args.model_id)
            print(f"removed {args.model_id}")
    except KeyError:
        print(f"scoutzoom: error: no cached model {args.model_id!r} in {cache.directory}", file=sys.stderr)
        return exit_codes.FAILED
    return exit_codes.OK
