"""``scoutzoom bench foam``: the foam-phantom study (methods side by side at ratios 3:1-9:1)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="run a quality benchmark (foam: the published foam-phantom study)")
    benches = parser.add_subparsers(dest="bench", metavar="BENCH", required=True)
    foam = benches.add_parser("foam", help="pore recovery, porosity, sphericity and image metrics per method and ratio")
    foam.add_argument("--size", choices=["tiny", "cpu", "paper"], default="cpu", help="tiny (minutes), cpu (< 1 h), paper (512^3, GPU)")
    foam.add_argument("--ratios", type=float, nargs="+", default=[3, 5, 7, 9])
    foam.add_argument("--methods", nargs="+", choices=["cubic", "subvoxel_fdk", "richardson_lucy", "srcnn", "unet"], default=None)
    foam.add_argument("--seed", type=int, default=0)
    foam.add_argument("--work", type=Path, default=None, help="scratch folder for the simulated pairs (default: the system temp dir)")
    foam.add_argument("--out", type=Path, default=None, help="writes OUT/foam_study.json and OUT/foam_study/report.md (default benchmarks/results)")
    foam.set_defaults(func=run_foam)


def run_foam(args: argparse.Namespace) -> int:
    # benchmarks/ is not part of the installed distribution: run from a source checkout.
    if str(REPO_ROOT) not in sys.path and (REPO_ROOT / "benchmarks" / "foam_study").is_dir():
        sys.path.insert(0, str(REPO_ROOT))
    from benchmarks.foam_study.run import DEFAULT_OUT, run_study

    out = args.out or DEFAULT_OUT
    results = run_study(args.size, args.ratios, out, args.methods, args.seed, args.work, log=lambda line: print(line, file=sys.stderr))
    print(f"wrote {out / 'foam_study.json'} and {results['report']}")
    return 0
