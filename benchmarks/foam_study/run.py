"""Run the foam study: ``python -m benchmarks.foam_study.run`` or ``scoutzoom bench foam``.

Two protocols. ``instrument`` (default; our scout/zoom geometry through the
product) writes ``<out>/foam_study.json`` (every figure) and ``<out>/foam_study/``
(``report.md`` and PNG plots). ``paper`` (the published one-grid protocol,
``benchmarks.foam_study.paper_run``) writes ``<out>/foam_study/paper_<size>/``.
Both refresh ``<out>/foam_study/README.md``, the two protocols side by side.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.foam_study import report
from benchmarks.foam_study.data import SIZES
from benchmarks.foam_study.methods import METHODS, run_methods
from benchmarks.foam_study.pair import run_pair
from benchmarks.foam_study.score import score, truth_figures

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "results"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return value


def run_study(
    size_name: str,
    ratios: Sequence[float],
    out_dir: Path,
    methods: Sequence[str] | None = None,
    seed: int = 0,
    work_dir: Path | None = None,
    log=print,
) -> dict[str, Any]:
    """Every method at every ratio on one phantom (simulated projections through the product); writes and returns the
    results."""
    started = time.perf_counter()
    size = SIZES[size_name]
    names = list(methods or METHODS)
    results: dict[str, Any] = {
        "size": size_name,
        "settings": size.model_dump(mode="json"),
        "region_px": size.eval_px,
        "zoom_voxel_mm": size.zoom_voxel_mm,
        "seed": seed,
        "voxels": {},
        "truth": {},
        "methods": {},
        "missing": {},
        "method_seconds": {},
        "method_settings": {},
        "pipeline_seconds": {},
        "failed": {},
        "published": report.PUBLISHED,
    }
    diameters: dict[str, dict[str, np.ndarray]] = {}
    sphericities: dict[str, dict[str, np.ndarray]] = {}
    slices: dict[str, dict[str, np.ndarray]] = {}
    with tempfile.TemporaryDirectory(prefix="foam-study-", dir=work_dir) as scratch:
        for ratio in ratios:
            key = f"{ratio:g}"
            try:
                pair = run_pair(size, ratio, seed, Path(scratch) / f"r{key}", log=log)
            except RuntimeError as error:  # the product failed on this pair (e.g. registration): a result too
                results["failed"][key] = str(error)
                log(str(error))
                continue
            results["voxels"][key] = size.voxel_table(ratio)
            results["pipeline_seconds"][key] = pair.seconds
            truth, results["truth"][key] = truth_figures(pair)
            diameters[key] = {"truth": truth.diameters_mm}
            sphericities[key] = {"truth": truth.sphericities}
            mid = pair.truth.shape[0] // 2
            slices[key] = {"truth": pair.truth[mid]}
            volumes, seconds, settings = run_methods(pair, size, names, log=log)
            results["method_settings"][key] = settings
            for name, recovered in volumes.items():
                analysis, figures = score(recovered, pair, truth)
                results["methods"].setdefault(name, {})[key] = figures
                results["method_seconds"].setdefault(name, {})[key] = seconds[name]
                diameters[key][name] = analysis.diameters_mm
                sphericities[key][name] = analysis.sphericities
                slices[key][name] = recovered[mid]
                log(
                    f"R={key} {name}: recovery {figures['recovered_fraction']:.3f}, false {figures['false_pores']}, "
                    f"porosity err {figures['porosity_error']:+.3f}, PSNR {figures['psnr_db']:.2f} dB"
                )
            results["seconds"] = time.perf_counter() - started
            write_outputs(
                results, diameters, sphericities, slices, out_dir
            )  # after every ratio: a partial run still leaves results
    results["seconds"] = time.perf_counter() - started
    return write_outputs(results, diameters, sphericities, slices, out_dir)


def write_outputs(results, diameters, sphericities, slices, out_dir: Path) -> dict[str, Any]:
    """JSON with every figure, and the Markdown report with its plots."""
    figures_dir = Path(out_dir) / "foam_study"
    figures_dir.mkdir(parents=True, exist_ok=True)
    images: dict[str, str] = {}
    if results["methods"]:
        images["pore recovery vs ratio"] = report.plot_vs_ratio(
            results,
            "recovered_fraction",
            "pore recovery (fraction of truth pores)",
            figures_dir / "recovery.png",
            truth_key="recovered_fraction",
            targets={3: 0.95, 5: 0.95, 7: 0.95, 9: 0.85},
        )
        images["porosity vs ratio"] = report.plot_vs_ratio(
            results, "porosity", "porosity", figures_dir / "porosity.png", truth_key="porosity"
        )
        images["pore size histograms"] = report.plot_per_ratio(
            diameters, "hist", "equivalent diameter (mm)", figures_dir / "sizes.png"
        )
        images["sphericity"] = report.plot_per_ratio(sphericities, "box", "", figures_dir / "sphericity.png")
        images["example slices"] = report.plot_slices(slices, figures_dir / "slices.png")
    results["report"] = str(figures_dir / "report.md")
    (figures_dir / "report.md").write_text(report.markdown(results, images), encoding="utf-8")
    clean = _jsonable(results)
    (Path(out_dir) / "foam_study.json").write_text(json.dumps(clean, indent=1) + "\n", encoding="utf-8")
    return clean


PAPER_METHODS = ("fdk", "cubic", "richardson_lucy", "srcnn", "unet_small", "unet_medium", "unet_standard")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--protocol",
        choices=["instrument", "paper"],
        default="instrument",
        help="instrument: our scout/zoom geometry through the product; paper: the published one-grid protocol",
    )
    parser.add_argument(
        "--size",
        choices=sorted(SIZES),
        default="cpu",
        help="tiny (minutes), cpu (about 1 h on 2 CPU cores), paper (512^3, GPU)",
    )
    parser.add_argument("--ratios", type=float, nargs="+", default=[3, 5, 7, 9])
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=sorted(set(METHODS) | set(PAPER_METHODS)),
        default=None,
        help=f"default: all of the protocol's (instrument: {', '.join(METHODS)}; paper: fdk, cubic, "
        "richardson_lucy, srcnn and unet_<preset> for the size's presets)",
    )
    parser.add_argument("--seed", type=int, default=0, help="instrument protocol: the phantom's seed")
    parser.add_argument(
        "--train-seed", type=int, default=None, help="paper protocol: realisation A (default: the fixed training seed)"
    )
    parser.add_argument(
        "--test-seed",
        type=int,
        default=None,
        help="paper protocol: realisation B (default: the fixed seed kept for reported figures)",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="paper protocol: ignore the rows of an earlier run of the same settings (default: keep them, run the "
        "rest)",
    )
    parser.add_argument(
        "--work", type=Path, default=None, help="scratch folder for the simulated pairs (default: the system temp dir)"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="writes OUT/foam_study.json and OUT/foam_study/report.md"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    written = run_protocol(args)
    print(f"wrote {written}")
    return 0


def run_protocol(args: argparse.Namespace, log=print) -> str:
    """Run the chosen protocol from parsed arguments, refresh the two-protocol summary; returns what was written."""
    from benchmarks.foam_study.summary import write_summary

    if args.protocol == "paper":
        from benchmarks.foam_study.paper_run import run_paper_study
        from benchmarks.foam_study.paper_size import TEST_SEED, TRAIN_SEED

        bad = [m for m in args.methods or [] if m not in PAPER_METHODS]
        if bad:
            raise SystemExit(
                f"not methods of the paper protocol: {', '.join(bad)} (choose from {', '.join(PAPER_METHODS)})"
            )
        run_paper_study(
            args.size,
            args.ratios,
            args.out,
            args.methods,
            train_seed=TRAIN_SEED if args.train_seed is None else args.train_seed,
            test_seed=TEST_SEED if args.test_seed is None else args.test_seed,
            resume=not args.fresh,
            log=log,
        )
        written = str(Path(args.out) / "foam_study" / f"paper_{args.size}")
    else:
        bad = [m for m in args.methods or [] if m not in METHODS]
        if bad:
            raise SystemExit(
                f"not methods of the instrument protocol: {', '.join(bad)} (choose from {', '.join(METHODS)})"
            )
        results = run_study(args.size, args.ratios, args.out, args.methods, args.seed, args.work, log=log)
        written = f"{Path(args.out) / 'foam_study.json'} and {results['report']}"
    return f"{written} and {write_summary(Path(args.out))}"


if __name__ == "__main__":
    raise SystemExit(main())
