"""``scoutzoom models list|show|verify|rm|export``: inspect and manage the model cache.

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
    parser.add_argument("--model-cache", type=Path, default=None, metavar="DIR", help="cache directory (default: <state dir>/models)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="one line per cached model")
    listing.add_argument("--json", action="store_true", help="print the cards as a JSON list")
    show = actions.add_parser("show", help="print a model card")
    show.add_argument("model_id", metavar="ID")
    verify = actions.add_parser("verify", help="check cards, checksums and ONNX files (all models if no ID)")
    verify.add_argument("model_id", metavar="ID", nargs="?")
    remove = actions.add_parser("rm", help="delete a cached model")
    remove.add_argument("model_id", metavar="ID")
    export = actions.add_parser("export", help="copy a cached model (card and files) to DEST")
    export.add_argument("model_id", metavar="ID")
    export.add_argument("dest", type=Path, metavar="DEST")
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
            f"{card.id}  ratio {card.voxel_ratio:.2f}  scout [{_conditions(card.scout)}]  zoom [{_conditions(card.zoom)}]"
            f"  class {card.sample_class or '-'}  gain {card.validation.gain_db:+.2f} dB  used {card.use_count}x (last {used})"
        )
    for model_id, reason in problems.items():
        print(f"{model_id}  UNUSABLE: {reason}")
    return exit_codes.OK


def _verify(cache: ModelCache, model_id: str | None) -> int:
    from models.cache.verify import CacheEntryRejected

    ids = [model_id] if model_id else cache.ids()
    failed = 0
    for each in ids:
        try:
            cache.verify(each)
            print(f"{each}  ok")
        except CacheEntryRejected as error:
            failed += 1
            print(f"{each}  REJECTED: {error.reason}")
    return exit_codes.FAILED if failed else exit_codes.OK


def run(args: argparse.Namespace) -> int:
    from models.cache.paths import resolve_cache_dir
    from models.cache.store import ModelCache

    cache = ModelCache(resolve_cache_dir(args.model_cache))
    try:
        if args.action == "list":
            return _list(cache, args.json)
        if args.action == "verify":
            return _verify(cache, args.model_id)
        if args.action == "show":
            print(cache.get(args.model_id).to_json())
        elif args.action == "rm":
            cache.remove(args.model_id)
            print(f"removed {args.model_id}")
        elif args.action == "export":
            print(cache.export(args.model_id, args.dest))
    except KeyError:
        print(f"scoutzoom: error: no cached model {args.model_id!r} in {cache.directory}", file=sys.stderr)
        return exit_codes.FAILED
    return exit_codes.OK
