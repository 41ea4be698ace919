"""Run the foam study: ``python -m benchmarks.foam_study.run`` or ``scoutzoom bench foam``.

Writes ``<out>/foam_study.json`` (every figure) and ``<out>/foam_study/``
(``report.md`` and PNG plots).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.foam_study import report
from benchmarks.foam_study.data import SIZES, make_pair
from benchmarks.foam_study.methods import FACTORIES, scout_on
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


def run_study(size_name: str, ratios: Sequence[float], out_dir: Path, methods: Sequence[str] | None = None, seed: int = 0, log=print) -> dict[str, Any]:
    """Every method at every ratio on one phantom; returns (and writes) the results."""
    started = time.perf_counter()
    size = SIZES[size_name]
    names = list(methods or FACTORIES)
    results: dict[str, Any] = {
        "size": size_name, "region_px": size.region_px, "zoom_voxel_mm": size.zoom_voxel_mm, "seed": seed,
        "truth": {}, "methods": {}, "missing": {}, "method_seconds": {}, "published": report.PUBLISHED,
    }
    diameters: dict[str, dict[str, np.ndarray]] = {}
    sphericities: dict[str, dict[str, np.ndarray]] = {}
    slices: dict[str, dict[str, np.ndarray]] = {}
    phantom = None
    for ratio in ratios:
        key = f"{ratio:g}"
        pair = make_pair(size, ratio, seed, phantom)
        phantom = pair.phantom
        truth, results["truth"][key] = truth_figures(pair)
        diameters[key] = {"truth": truth.diameters_mm}
        sphericities[key] = {"truth": truth.sphericities}
        mid = pair.truth_eval.shape[0] // 2
        slices[key] = {"truth": pair.truth_eval[mid]}
        scout_eval = scout_on(pair, pair.eval_grid)
        for name in names:
            t0 = time.perf_counter()
            try:
                method = FACTORIES[name](pair, size)
            except ModuleNotFoundError as error:
                results["missing"][name] = f"not in the repository yet ({error.name})"
                continue
            recovered = np.asarray(method(scout_eval), np.float32)
            analysis, figures = score(recovered, pair, truth)
            results["methods"].setdefault(name, {})[key] = figures
            results["method_seconds"].setdefault(name, {})[key] = time.perf_counter() - t0
            diameters[key][name] = analysis.diameters_mm
            sphericities[key][name] = analysis.sphericities
            slices[key][name] = recovered[mid]
            log(f"R={key} {name}: recovery {figures['recovered_fraction']:.3f}, porosity err {figures['porosity_error']:+.3f}, "
                f"PSNR {figures['psnr_db']:.2f} dB ({time.perf_counter() - t0:.0f} s)")
    results["seconds"] = time.perf_counter() - started
    return write_outputs(results, diameters, sphericities, slices, out_dir)


def write_outputs(results, diameters, sphericities, slices, out_dir: Path) -> dict[str, Any]:
    """JSON with every figure, and the Markdown report with its plots."""
    figures_dir = Path(out_dir) / "foam_study"
    figures_dir.mkdir(parents=True, exist_ok=True)
    images: dict[str, str] = {}
    if results["methods"]:
        images["pore recovery vs ratio"] = report.plot_vs_ratio(
            results, "recovered_fraction", "pore recovery (fraction of truth pores)", figures_dir / "recovery.png",
            truth_key="recovered_fraction", targets={3: 0.95, 5: 0.95, 7: 0.95, 9: 0.85},
        )
        images["porosity vs ratio"] = report.plot_vs_ratio(results, "porosity", "porosity", figures_dir / "porosity.png", truth_key="porosity")
        images["pore size histograms"] = report.plot_per_ratio(diameters, "hist", "equivalent diameter (mm)", figures_dir / "sizes.png")
        images["sphericity"] = report.plot_per_ratio(sphericities, "box", "", figures_dir / "sphericity.png")
        images["example slices"] = report.plot_slices(slices, figures_dir / "slices.png")
    results["report"] = str(figures_dir / "report.md")
    (figures_dir / "report.md").write_text(report.markdown(results, images), encoding="utf-8")
    clean = _jsonable(results)
    (Path(out_dir) / "foam_study.json").write_text(json.dumps(clean, indent=1) + "\n", encoding="utf-8")
    return clean


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", choices=sorted(SIZES), default="cpu", help="tiny (minutes), cpu (< 1 h on a CPU), paper (512^3, GPU)")
    parser.add_argument("--ratios", type=float, nargs="+", default=[3, 5, 7, 9])
    parser.add_argument("--methods", nargs="+", choices=sorted(FACTORIES), default=None, help="default: all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="writes OUT/foam_study.json and OUT/foam_study/report.md")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    results = run_study(args.size, args.ratios, args.out, args.methods, args.seed)
    print(f"wrote {args.out / 'foam_study.json'} and {results['report']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
