"""``scoutzoom bench foam``: the foam-phantom study, two protocols (methods side by side at ratios 3:1-9:1).

``--protocol instrument`` (default): our scout/zoom geometry through the product.
``--protocol paper``: the published one-grid protocol (realisation A trains, B is scored).

The benchmarks are not in the wheel: from an installed package without a
source checkout the command is a usage error that says so.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from daemon import exit_codes

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTRUMENT_METHODS = ("cubic", "subvoxel_fdk", "richardson_lucy", "srcnn", "unet")
PAPER_METHODS = ("fdk", "cubic", "richardson_lucy", "srcnn", "unet_small", "unet_medium", "unet_standard")
BENCH_PACKAGES = {"benchmarks", "benchmarks.foam_study", "benchmarks.foam_study.run"}
NEEDS_CHECKOUT = (
    "needs a source checkout of scoutzoom: the benchmarks/ package is not in the installed wheel "
    "(clone the repository, `pip install -e .` there and run `scoutzoom bench` from it)"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="run a quality benchmark (foam: the published foam-phantom study; source checkout only)",
        description=f"Quality benchmarks. `scoutzoom bench` {NEEDS_CHECKOUT}.",
    )
    benches = parser.add_subparsers(dest="bench", metavar="BENCH", required=True)
    foam = benches.add_parser(
        "foam",
        help="pore recovery, porosity, sphericity and image metrics per method and ratio",
        description="The foam-phantom study: pore recovery, porosity, sphericity and image metrics per method and "
        f"ratio. `scoutzoom bench` {NEEDS_CHECKOUT}.",
    )
    foam.add_argument(
        "--protocol",
        choices=["instrument", "paper"],
        default="instrument",
        help="instrument: scout/zoom pairs through the product; paper: the published one-grid protocol (A trains, B "
        "scored)",
    )
    foam.add_argument(
        "--size",
        choices=["tiny", "cpu", "paper"],
        default="cpu",
        help="tiny (minutes), cpu (about 1 h on 2 CPU cores), paper (512^3, GPU)",
    )
    foam.add_argument("--ratios", type=float, nargs="+", default=[3, 5, 7, 9])
    foam.add_argument(
        "--methods",
        nargs="+",
        choices=sorted(set(INSTRUMENT_METHODS) | set(PAPER_METHODS)),
        default=None,
        help=f"default: all of the protocol's (instrument: {', '.join(INSTRUMENT_METHODS)}; "
        "paper: fdk, cubic, richardson_lucy, srcnn and unet_<preset> for the size's presets)",
    )
    foam.add_argument("--seed", type=int, default=0, help="instrument protocol: the phantom's seed")
    foam.add_argument(
        "--train-seed", type=int, default=None, help="paper protocol: realisation A (default: the fixed training seed)"
    )
    foam.add_argument(
        "--test-seed",
        type=int,
        default=None,
        help="paper protocol: realisation B (default: the fixed seed kept for reported figures)",
    )
    foam.add_argument(
        "--fresh",
        action="store_true",
        help="paper protocol: ignore the rows of an earlier run of the same settings (default: keep them, run the "
        "rest)",
    )
    foam.add_argument(
        "--work", type=Path, default=None, help="instrument protocol: scratch folder for the simulated pairs"
    )
    foam.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results root (default benchmarks/results): OUT/foam_study.json, OUT/foam_study/paper_<size>/, "
        "OUT/foam_study/README.md",
    )
    foam.set_defaults(func=run_foam)


def run_foam(args: argparse.Namespace) -> int:
    # benchmarks/ is not part of the installed distribution: run from a source checkout.
    if str(REPO_ROOT) not in sys.path and (REPO_ROOT / "benchmarks" / "foam_study").is_dir():
        sys.path.insert(0, str(REPO_ROOT))
    try:
        from benchmarks.foam_study.run import DEFAULT_OUT, run_protocol
    except ModuleNotFoundError as error:
        if error.name not in BENCH_PACKAGES:
            raise  # a dependency of the benchmarks is missing: its own message says which
        print(f"scoutzoom: error: `scoutzoom bench` {NEEDS_CHECKOUT}", file=sys.stderr)
        return exit_codes.USAGE

    args.out = args.out or DEFAULT_OUT
    written = run_protocol(args, log=lambda line: print(line, file=sys.stderr))
    print(f"wrote {written}")
    return 0
