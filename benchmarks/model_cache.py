"""Benchmark: a pair processed with a model-cache hit vs a miss (train), time and quality.

Simulates two pairs under the same acquisition conditions (different seeds),
then processes

1. pair A with an empty cache (miss: trains and stores a model),
2. pair B with that cache (hit expected: reuses A's model after validation),
3. pair B with the cache disabled (trains its own model: the reference).

and writes wall times, stage times, the cache decisions and the held-out
quality figures of report.json to ``benchmarks/results/model_cache.json``.

    python benchmarks/model_cache.py [--preset small] [--detector-px 128] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "model_cache.json"


def _simulate(root: Path, seed: int, detector_px: int) -> Path:
    from pipeline.simulate import SimulationConfig, simulate_pair

    config = SimulationConfig.model_validate(
        {
            "seed": seed,
            "sample_id": f"foam-{seed}",
            "scout": {"detector_px": detector_px},
            "zoom": {
                "detector_px": detector_px,
                "photons": 10000.0,
                "blur_sigma_px": 0.6,
                "objective": "20X",
                "exposure_s": 4.0,
            },
        }
    )
    simulate_pair(root / f"seed{seed}", config, overwrite=True)
    return root / f"seed{seed}" / "pair"


def _process(pair: Path, out: Path, preset: str, cache_dir: Path | None) -> dict[str, Any]:
    from pipeline.config import build_process_config
    from pipeline.pair.process import process_pair

    overrides: dict[str, Any] = {"cache": {"enabled": cache_dir is not None}}
    if cache_dir is not None:
        overrides["cache"]["directory"] = str(cache_dir)
    config = build_process_config(preset, overrides)
    started = time.perf_counter()
    outcome = process_pair(pair, out, config, force=True)
    seconds = time.perf_counter() - started
    run: dict[str, Any] = {"status": outcome.status, "wall_s": round(seconds, 2), "message": outcome.message}
    if outcome.report_path is not None:
        report = json.loads(Path(outcome.report_path).read_text())
        run["stages_s"] = {name: round(t["seconds"], 2) for name, t in report.get("stages", {}).items()}
        run["model"] = {
            k: report["model"].get(k) for k in ("id", "reused", "decision", "cache") if k in report["model"]
        }
        run["quality"] = report.get("quality")
    elif (out / "FAILED.json").is_file():  # keep the stage times gathered before the failure
        failure = json.loads((out / "FAILED.json").read_text())
        run["failed_stage"] = failure.get("stage")
        run["stages_s"] = {name: round(t["seconds"], 2) for name, t in failure.get("stages", {}).items()}
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small", choices=["small", "standard"])
    parser.add_argument("--detector-px", type=int, default=128)
    parser.add_argument("--work", type=Path, default=None, help="working directory (default: a temporary one)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="scoutzoom-bench-cache-") as temp:
        work = args.work or Path(temp)
        work.mkdir(parents=True, exist_ok=True)
        cache_dir = work / "cache"
        pair_a, pair_b = _simulate(work / "sim", 0, args.detector_px), _simulate(work / "sim", 1, args.detector_px)
        runs = {
            "a_miss_train": _process(pair_a, work / "out" / "a", args.preset, cache_dir),
            "b_hit_reuse": _process(pair_b, work / "out" / "b_hit", args.preset, cache_dir),
            "b_no_cache_train": _process(pair_b, work / "out" / "b_train", args.preset, None),
        }

    hit, trained = runs["b_hit_reuse"], runs["b_no_cache_train"]
    summary: dict[str, Any] = {}
    if "quality" in hit and "quality" in trained and hit["quality"] and trained["quality"]:
        summary = {
            "hit_reused": bool(hit.get("model", {}).get("reused")),
            "speedup_hit_vs_train": round(trained["wall_s"] / hit["wall_s"], 2),
            "psnr_hit_minus_train_db": round(
                hit["quality"]["psnr_recovered_db"] - trained["quality"]["psnr_recovered_db"], 3
            ),
            "ssim_hit_minus_train": round(hit["quality"]["ssim_recovered"] - trained["quality"]["ssim_recovered"], 4),
            "psnr_hit_minus_cubic_db": round(hit["quality"]["psnr_recovered_db"] - hit["quality"]["psnr_cubic_db"], 3),
        }
    result = {
        "benchmark": "model_cache",
        "preset": args.preset,
        "detector_px": args.detector_px,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "runs": runs,
        "summary": summary,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary or runs, indent=2))


if __name__ == "__main__":
    main()
