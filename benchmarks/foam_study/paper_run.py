"""Run the published one-grid protocol: ``scoutzoom bench foam --protocol paper --size cpu|paper``.

Writes ``<out>/foam_study/paper_<size>/``: ``results.json`` (every figure), ``report.md`` (the table
beside the published figures) and PNG plots, rewritten after every row so a killed run leaves figures.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.foam_study import paper_report
from benchmarks.foam_study.paper_acquire import Realisation, acquire_cached
from benchmarks.foam_study.paper_methods import MethodUnavailable, method_names, run_method
from benchmarks.foam_study.paper_size import PAPER_SIZES, TEST_SEED, TRAIN_SEED, PaperSize
from benchmarks.foam_study.score import score_on_grid
from pipeline.evaluate.pore_match import match_pores
from pipeline.evaluate.pores import PoreAnalysis, analyse_pores


def _jsonable(value: Any) -> Any:
    from benchmarks.foam_study.run import _jsonable as clean

    return clean(value)


class _Scorer:
    """Scores volumes of realisation B against its phantom (truth analysed once)."""

    def __init__(self, b: Realisation, size: PaperSize, max_ratio: float) -> None:
        self.b = b
        self.truth: PoreAnalysis = analyse_pores(b.truth, b.analysis_mask, b.grid.voxel_mm, grid=b.grid)
        self.max_sigma_px = 2.0 * max_ratio / size.voxel_um + 2.0
        self.box_px = min(size.grid_px, max(64, size.grid_px // 2))

    def truth_figures(self) -> dict[str, Any]:
        recovery = match_pores(self.truth, self.b.eligible_pores, self.b.grid)
        false = match_pores(self.truth, self.b.phantom.pores, self.b.grid).false_pores
        return {
            "false_pores": false,
            "porosity": self.truth.porosity,
            "phantom_porosity": self.b.phantom.porosity,
            "pore_count": self.truth.count,
            "mean_sphericity": self.truth.mean_sphericity,
            "recovered_fraction": recovery.recovered_fraction,
            "eligible_truth_pores": recovery.truth_count,
            "size_histogram": self.truth.size_distribution(paper_report.SIZE_EDGES_UM / 1000.0),
            "eligible_diameters_um": sorted(round(2000.0 * p.radius_mm, 2) for p in self.b.eligible_pores),
        }

    def __call__(self, volume: np.ndarray) -> tuple[dict[str, Any], np.ndarray, float]:
        t0 = time.perf_counter()
        _, figures, ms_map = score_on_grid(
            volume,
            self.b.truth,
            self.b.grid,
            self.b.eligible_pores,
            self.b.analysis_mask,
            self.truth,
            max_sigma_px=self.max_sigma_px,
            resolution_box_px=self.box_px,
            all_pores=self.b.phantom.pores,
        )
        return figures, ms_map, time.perf_counter() - t0


def _derived(size: PaperSize, a: Realisation | None, b: Realisation | None) -> dict[str, Any]:
    return {
        "grid_px": size.grid_px,
        "angles": size.n_angles,
        "detector_px": size.detector_px,
        "source_to_axis_mm": size.source_to_axis_mm,
        "radius_um": size.radius_mm * 1000,
        "height_um": size.height_mm * 1000,
        "pores_a": len(a.phantom.pores) if a else None,
        "pores_b": len(b.phantom.pores) if b else None,
        "eligible_b": len(b.eligible_pores) if b else None,
    }


def write_outputs(
    results: dict[str, Any], slices: dict, maps: dict, directory: Path, *, plots: bool = True
) -> dict[str, Any]:
    """``results.json``, ``report.md`` and the plots under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    images: dict[str, str] = {}
    if results["methods"] and plots:
        targets = paper_report.PUBLISHED_RECOVERY["unet"]
        ref = results.get("reference", {})
        images["pore recovery vs ratio"] = paper_report.plot_key(
            results,
            "recovered_fraction",
            "pore recovery",
            directory / "recovery.png",
            targets=targets,
            reference=ref.get("recovered_fraction"),
        )
        images["porosity error vs ratio"] = paper_report.plot_key(
            results, "porosity_error", "porosity error (%)", directory / "porosity.png", scale=100.0
        )
        images["sphericity error vs ratio"] = paper_report.plot_key(
            results, "sphericity_error", "mean sphericity error (%)", directory / "sphericity.png", scale=100.0
        )
        images["PSNR vs ratio"] = paper_report.plot_key(
            results, "psnr_db", "PSNR vs phantom (dB)", directory / "psnr.png", reference=ref.get("psnr_db")
        )
        images["effective resolution vs ratio"] = paper_report.plot_key(
            results,
            "effective_sigma_um",
            "effective sigma (um)",
            directory / "resolution.png",
            reference=ref.get("effective_sigma_um"),
        )
        images["pore size distributions"] = paper_report.plot_sizes(results, directory / "sizes.png")
        if any(len(per) > 1 for per in slices.values()):
            images["middle slices"] = paper_report.plot_maps(slices, directory / "slices.png", maps=False)
        if any(maps.values()):
            images["MS-SSIM maps (middle slice)"] = paper_report.plot_maps(
                maps, directory / "ms_ssim_maps.png", maps=True
            )
    (directory / "report.md").write_text(paper_report.markdown(results, images), encoding="utf-8")
    clean = _jsonable(results)
    (directory / "results.json").write_text(json.dumps(clean, indent=1) + "\n", encoding="utf-8")
    return clean


def job_order(ratios: Sequence[float], names: Sequence[str]) -> list[tuple[float, str]]:
    """Quick methods at every ratio first, then each heavier U-Net preset ratio by ratio (a cut run keeps most rows)."""
    heavy = [n for n in names if n.startswith("unet_") and n != "unet_small"]
    jobs = [(r, n) for r in ratios for n in names if n not in heavy]
    return jobs + [(r, n) for n in heavy for r in ratios]


ROW_KEYS = ("methods", "method_seconds", "method_cpu_seconds", "score_seconds", "method_settings", "load_average")
DEFAULT_CACHE = Path(__file__).resolve().parents[2] / "scratch" / "foam_paper_cache"


def _previous(directory: Path, results: dict[str, Any]) -> dict[str, Any] | None:
    """The rows of an earlier run of the same size, settings and seeds (to resume), else None."""
    try:
        old = json.loads((directory / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    same = all(old.get(k) == results[k] for k in ("size", "settings", "seeds"))
    return old if same else None


def _images_path(cache_dir: Path | None, results: dict[str, Any], directory: Path) -> Path | None:
    """Where the plotted slices of each row are kept between runs (one file per results directory)."""
    if cache_dir is None:
        return None
    where = hashlib.sha256(str(Path(directory).resolve()).encode()).hexdigest()[:8]
    seeds = results["seeds"]
    return Path(cache_dir) / f"rows_{results['size']}_seeds{seeds['train']}_{seeds['test']}_{where}.npz"


def merge_runs(
    target: Path, source: Path, cache_dir: Path | None = DEFAULT_CACHE, *, plots: bool = True
) -> dict[str, Any]:
    """Add the rows of the run in ``source`` (a ``paper_<size>`` folder) missing from ``target``'s; rewrite ``target``.

    Two processes can then share a slow study (e.g. the heavy preset in one, the rest in the other);
    both runs must have the same size, settings and seeds.
    """
    into = json.loads((Path(target) / "results.json").read_text(encoding="utf-8"))
    extra = json.loads((Path(source) / "results.json").read_text(encoding="utf-8"))
    if any(into.get(k) != extra.get(k) for k in ("size", "settings", "seeds")):
        raise ValueError(f"{source} and {target} are runs of different sizes, settings or seeds")
    slices, maps = _load_images(_images_path(cache_dir, into, target))
    more_slices, more_maps = _load_images(_images_path(cache_dir, extra, source))
    for key in ROW_KEYS:
        for method, per in extra.get(key, {}).items():
            for ratio, value in per.items():
                into.setdefault(key, {}).setdefault(method, {}).setdefault(ratio, value)
    for mine, theirs in ((slices, more_slices), (maps, more_maps)):
        for ratio, per in theirs.items():
            for method, image in per.items():
                mine.setdefault(ratio, {}).setdefault(method, image)
    into["methods_planned"] = list(dict.fromkeys(into.get("methods_planned", []) + extra.get("methods_planned", [])))
    into["missing"] = {k: v for k, v in into.get("missing", {}).items() if k not in into["methods"]}
    into["seconds"] = max(float(into.get("seconds", 0.0)), float(extra.get("seconds", 0.0)))
    into["merged_from"] = sorted(set(into.get("merged_from", [])) | {str(source)})
    planned = [(f"{r:g}", n) for r in into["ratios"] for n in into["methods_planned"] if n not in into["missing"]]
    into["complete"] = all(r in into["methods"].get(n, {}) for r, n in planned)
    _save_images(_images_path(cache_dir, into, target), slices, maps)
    return write_outputs(into, slices, maps, Path(target), plots=plots)


def _load_images(path: Path | None) -> tuple[dict, dict]:
    slices: dict[str, dict[str, np.ndarray]] = {}
    maps: dict[str, dict[str, np.ndarray]] = {}
    if path is not None and path.is_file():
        with np.load(path) as data:
            for name in data.files:
                kind, ratio, method = name.split("|")
                (slices if kind == "slice" else maps).setdefault(ratio, {})[method] = data[name]
    return slices, maps


def _save_images(path: Path | None, slices: dict, maps: dict) -> None:
    if path is None:
        return
    arrays = {f"slice|{r}|{m}": v for r, per in slices.items() for m, v in per.items()}
    arrays |= {f"map|{r}|{m}": v for r, per in maps.items() for m, v in per.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path.with_suffix(".partial.npz"), **arrays)
    path.with_suffix(".partial.npz").replace(path)


def run_paper_study(
    size_name: str,
    ratios: Sequence[float],
    out_dir: Path,
    methods: Sequence[str] | None = None,
    *,
    train_seed: int = TRAIN_SEED,
    test_seed: int = TEST_SEED,
    cache_dir: Path | None = DEFAULT_CACHE,
    resume: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every method at every ratio: trained on realisation A's R:1 pair, scored on B against the phantom.

    With ``cache_dir`` the simulated and reconstructed realisations are kept there and reused by a later
    run of the same settings; with ``resume`` rows already in ``results.json`` (same size, settings and
    seeds) are kept and not run again, so a cut run can be continued or a method added later.
    """
    started = time.perf_counter()
    size = PAPER_SIZES[size_name]
    names = list(methods or method_names(size))
    directory = Path(out_dir) / "foam_study" / f"paper_{size_name}"
    results: dict[str, Any] = {
        "protocol": "paper",
        "size": size_name,
        "settings": size.model_dump(mode="json"),
        "derived": _derived(size, None, None),
        "seeds": {"train": train_seed, "test": test_seed},
        "ratios": [float(r) for r in ratios],
        "methods_planned": names,
        "machine": {"cpus": os.cpu_count()},
        "truth": {},
        "reference": {},
        "methods": {},
        "method_seconds": {},
        "method_cpu_seconds": {},
        "score_seconds": {},
        "method_settings": {},
        "load_average": {},
        "input_seconds": {},
        "missing": {},
        "complete": False,
        "seconds": 0.0,
        "published": {
            "recovery": paper_report.PUBLISHED_RECOVERY,
            "porosity_within": paper_report.PUBLISHED_POROSITY_WITHIN,
            "sphericity_within": paper_report.PUBLISHED_SPHERICITY_WITHIN,
        },
    }
    old = _previous(directory, results) if resume else None
    earlier_s = 0.0
    if old is not None:
        for key in ROW_KEYS:
            results[key] = old.get(key, {})
        results["missing"] = {k: v for k, v in old.get("missing", {}).items() if k not in names}
        results["ratios"] = sorted(set(results["ratios"]) | set(old.get("ratios", [])))
        results["methods_planned"] = list(dict.fromkeys(old.get("methods_planned", []) + names))
        earlier_s = float(old.get("seconds", 0.0))
        log(f"resuming {directory / 'results.json'}: {sum(len(v) for v in results['methods'].values())} rows kept")
    images_path = _images_path(cache_dir, results, directory)
    slices, maps = _load_images(images_path) if old is not None else ({}, {})
    resolutions = [size.voxel_um] + [float(r) for r in ratios]
    a = acquire_cached(size, train_seed, resolutions, cache_dir, log=log)
    b = acquire_cached(size, test_seed, resolutions, cache_dir, coarse_cubic=True, log=log)
    results["derived"] = _derived(size, a, b)
    results["input_seconds"] = {f"A {k}": v for k, v in a.seconds.items()} | {f"B {k}": v for k, v in b.seconds.items()}
    scorer = _Scorer(b, size, max(ratios))
    results["truth"] = scorer.truth_figures()
    results["reference"], _, _ = scorer(b.fdk[size.voxel_um])
    mid = size.grid_px // 2

    def elapsed() -> float:
        return earlier_s + time.perf_counter() - started

    results["seconds"] = elapsed()
    for ratio in ratios:
        slices.setdefault(f"{ratio:g}", {})["truth"] = b.truth[mid]
        maps.setdefault(f"{ratio:g}", {})
    write_outputs(results, slices, maps, directory)
    for ratio, name in job_order(ratios, names):
        key = f"{ratio:g}"
        if name in results["missing"] or key in results["methods"].get(name, {}):
            continue
        cpu0 = time.process_time()
        try:
            outcome = run_method(name, a, b, ratio, size)
        except MethodUnavailable as why:
            results["missing"][name] = str(why)
            log(f"R={key} {name}: not run ({why})")
            continue
        method_cpu_s = time.process_time() - cpu0
        figures, ms_map, score_s = scorer(outcome.volume)
        results["methods"].setdefault(name, {})[key] = figures
        results["method_seconds"].setdefault(name, {})[key] = outcome.seconds
        results["method_cpu_seconds"].setdefault(name, {})[key] = method_cpu_s
        results["load_average"].setdefault(name, {})[key] = os.getloadavg()[0]
        results["score_seconds"].setdefault(name, {})[key] = score_s
        results["method_settings"].setdefault(name, {})[key] = outcome.settings
        slices[key][name] = outcome.volume[mid]
        maps[key][name] = ms_map[mid]
        results["seconds"] = elapsed()
        _save_images(images_path, slices, maps)
        write_outputs(results, slices, maps, directory)
        log(
            f"R={key} {name}: recovery {figures['recovered_fraction']:.3f} (false {figures['false_pores']}), porosity "
            f"{figures['porosity_error']:+.3f}, sphericity {figures['sphericity_error']:+.3f}, PSNR "
            f"{figures['psnr_db']:.2f} dB, "
            f"sigma {figures['effective_sigma_um']:.2f} um; {outcome.seconds:.0f} s (+{score_s:.0f} s scoring); "
            f"total {results['seconds']:.0f} s"
        )
    planned = [
        (f"{r:g}", n) for r in results["ratios"] for n in results["methods_planned"] if n not in results["missing"]
    ]
    results["complete"] = all(r in results["methods"].get(n, {}) for r, n in planned)
    results["seconds"] = elapsed()
    return write_outputs(results, slices, maps, directory)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.foam_study.paper_run merge SRC... [--into DIR]``: fold side runs into the main one."""
    import argparse

    from benchmarks.foam_study.summary import write_summary

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("command", choices=["merge"])
    parser.add_argument(
        "sources", type=Path, nargs="+", help="paper_<size> folders of side runs (same size, settings, seeds)"
    )
    parser.add_argument(
        "--into", type=Path, default=Path(__file__).resolve().parents[1] / "results" / "foam_study" / "paper_cpu"
    )
    args = parser.parse_args(argv)
    for source in args.sources:
        merged = merge_runs(args.into, source)
        rows = sum(len(v) for v in merged["methods"].values())
        print(f"merged {source} into {args.into}: {rows} rows, complete: {merged['complete']}")
    print(f"wrote {write_summary(args.into.parents[1])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
