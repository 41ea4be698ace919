"""``scoutzoom demo [DIR]``: simulate a small 3:1 pair and process it on CPU, end to end."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from daemon import exit_codes


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="simulate a small 3:1 scout/zoom pair and process it on CPU (the README's main command)"
    )
    parser.add_argument(
        "dir",
        type=Path,
        nargs="?",
        default=Path("scoutzoom-demo"),
        help="working directory (default: ./scoutzoom-demo)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--ratio", type=float, default=3.0)
    parser.add_argument("--preset", choices=["small", "medium", "standard"], default="small")
    parser.add_argument("--force", action="store_true", help="reprocess even if the demo output is complete")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from daemon.commands.process import run_pair
    from pipeline.config import build_process_config
    from pipeline.simulate import SimulationConfig, simulate_pair

    start = time.perf_counter()
    sim_dir = args.dir / "simulated"
    pair_dir = sim_dir / "pair"
    if not (pair_dir / "zoom" / "scan.json").exists():
        print(f"simulating a {args.ratio:g}:1 scout/zoom pair (seed {args.seed}) in {sim_dir} ...")
        simulate_pair(sim_dir, SimulationConfig(ratio=args.ratio, seed=args.seed))
    config = build_process_config(args.preset, {"cache": {"directory": str(args.dir / "model-cache")}})
    code = run_pair(pair_dir, args.dir / "output", config, args.force)
    print(f"demo finished in {time.perf_counter() - start:.0f} s; ground truth in {sim_dir / 'truth'}")
    return code if code is not None else exit_codes.OK
