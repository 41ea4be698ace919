"""Benchmark: stage times of ``process`` on the demo-sized pair, before and after the speed work, side by side.

Simulates the demo's pair once (``scoutzoom demo``: ratio 3, seed 7, 180 angles x 128^2 detector, 128^3
zoom), then processes it once per configuration, each in a fresh subprocess, all in this one invocation:

* ``before``: the RTK backend (which filters the projections again for every grid: no shared filtering),
* ``after``: the current defaults (numba FDK, projections filtered once per scan),
* ``streamed``: the defaults with the output region streamed into inference slab by slab (when the
  config has ``output.stream_region``; otherwise the row is left out).

Same preset (small), same seed, model cache off, CPU only (``CUDA_VISIBLE_DEVICES=""``). Each stage's wall
seconds and CPU seconds (this process and its waited children, all threads) come from the stage events
of :func:`pipeline.pair.process.process_pair`. Writes ``benchmarks/results/process_stages.json`` and a
stacked-bar plot ``process_stages.png``. The machine is shared: the load average is recorded around
every run, and only the ratios between runs of one invocation mean anything.

    python benchmarks/process_stages.py [--preset small] [--configs before after streamed] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
SEED, RATIO = 7, 3.0  # scoutzoom demo's defaults
STREAM_OFF = {"output": {"stream_region": False}}  # where the config has the switch: before and after keep it off
CONFIGS: dict[str, dict[str, Any]] = {
    "before": {"reconstruction": {"backend": "rtk"}},
    "after": {},  # the defaults: backend auto (numba on CPU), filtered once
    "streamed": {"output": {"stream_region": True}},
}
OUTPUT_STAGES = ("reconstruct_output", "infer")  # streamed, the output FDK runs inside infer
DESCRIPTIONS = {
    "before": "RTK FDK backend, projections filtered again for every grid, output region reconstructed whole",
    "after": "defaults (numba FDK on CPU), projections filtered once per scan, output region reconstructed whole",
    "streamed": "numba FDK, filtered once, output region reconstructed slab by slab inside inference",
}


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process, all threads, and its waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _supported(overrides: dict[str, Any]) -> bool:
    """Whether this checkout's config accepts ``overrides`` (``streamed`` needs ``output.stream_region``)."""
    from pydantic import ValidationError

    from pipeline.config import build_process_config

    try:
        build_process_config("small", overrides)
    except ValidationError:
        return False
    return True


def overrides_of(name: str) -> dict[str, Any]:
    """The config overrides of run ``name``: ``before`` and ``after`` with the output region whole."""
    overrides = dict(CONFIGS[name])
    if name != "streamed" and _supported(STREAM_OFF):
        overrides.update(STREAM_OFF)
    return overrides


def child(pair: Path, out: Path, preset: str, name: str) -> dict[str, Any]:
    """Process ``pair`` once with configuration ``name``; stage wall and CPU seconds, and report figures."""
    from models.events import StageFinished, StageStarted
    from pipeline.config import build_process_config
    from pipeline.pair.process import process_pair

    overrides = {**overrides_of(name), "cache": {"enabled": False}}
    config = build_process_config(preset, overrides)
    marks: dict[str, tuple[float, float]] = {}
    stages: dict[str, dict[str, float]] = {}

    def progress(event: Any) -> None:
        if isinstance(event, StageStarted):
            marks[event.stage] = (time.perf_counter(), _cpu_s())
        elif isinstance(event, StageFinished) and event.stage in marks:
            wall0, cpu0 = marks.pop(event.stage)
            stages[event.stage] = {
                "seconds": round(time.perf_counter() - wall0, 3),
                "cpu_seconds": round(_cpu_s() - cpu0, 3),
                "peak_memory_mb": event.peak_memory_mb,
            }

    load_before = os.getloadavg()
    wall0, cpu0 = time.perf_counter(), _cpu_s()
    outcome = process_pair(pair, out, config, progress=progress, force=True)
    run: dict[str, Any] = {
        "config": name,
        "description": DESCRIPTIONS[name],
        "overrides": overrides_of(name),
        "status": outcome.status,
        "message": outcome.message,
        "total_seconds": round(time.perf_counter() - wall0, 3),
        "total_cpu_seconds": round(_cpu_s() - cpu0, 3),
        "stages": stages,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }
    if outcome.report_path is not None:
        report = json.loads(Path(outcome.report_path).read_text())
        run["reconstruction"] = {
            grid: {k: info[k] for k in ("backend", "seconds", "slabs", "voxel_updates_per_s")}
            for grid, info in report.get("reconstruction", {}).items()
        }
        inference = report.get("inference") or {}
        run["inference"] = {k: inference.get(k) for k in ("seconds", "read_seconds", "slabs", "slab_z", "voxels_per_s")}
        run["quality"] = {k: report["quality"][k] for k in ("psnr_recovered_db", "psnr_cubic_db")}
    return run


def _run_child(pair: Path, work: Path, preset: str, name: str) -> dict[str, Any]:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    args = [sys.executable, __file__, "--child", name, "--pair", str(pair), "--work", str(work), "--preset", preset]
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"config": name, "status": "crashed", "returncode": done.returncode, "stderr": done.stderr[-4000:]}
    return json.loads(lines[-1])


def _ratios(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """after/before (and streamed/before, streamed/after) of the total and of every stage, wall and CPU."""
    ratios: dict[str, Any] = {}
    for num, den in (("after", "before"), ("streamed", "before"), ("streamed", "after")):
        a, b = runs.get(num), runs.get(den)
        if not a or not b or a.get("status") != "done" or b.get("status") != "done":
            continue
        entry: dict[str, Any] = {
            "total_seconds": round(a["total_seconds"] / b["total_seconds"], 3),
            "total_cpu_seconds": round(a["total_cpu_seconds"] / b["total_cpu_seconds"], 3),
            "stages_seconds": {},
        }
        for stage, t in b["stages"].items():
            if stage in a["stages"] and t["seconds"] > 0:
                entry["stages_seconds"][stage] = round(a["stages"][stage]["seconds"] / t["seconds"], 3)
        pair = [sum(r["stages"].get(s, {}).get("seconds", 0.0) for s in OUTPUT_STAGES) for r in (a, b)]
        if pair[1] > 0:  # interleaved when streamed: compared as one
            entry["stages_seconds"]["+".join(OUTPUT_STAGES)] = round(pair[0] / pair[1], 3)
        ratios[f"{num}/{den}"] = entry
    return ratios


def _plot(runs: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from models.events import STAGE_NAMES

    done = {name: run for name, run in runs.items() if run.get("status") == "done"}
    names = list(done)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=False)
    colours = plt.get_cmap("tab20")
    for ax, key, label in ((axes[0], "seconds", "wall s"), (axes[1], "cpu_seconds", "CPU s")):
        bottoms = [0.0] * len(names)
        for i, stage in enumerate(STAGE_NAMES):
            heights = [done[n]["stages"].get(stage, {}).get(key, 0.0) for n in names]
            if not any(heights):
                continue
            ax.bar(names, heights, bottom=bottoms, color=colours(i % 20), label=stage)
            bottoms = [b + h for b, h in zip(bottoms, heights)]
        for x, total in enumerate(bottoms):
            ax.text(x, total, f"{total:.0f}", ha="center", va="bottom", fontsize=8)
        ax.set_ylabel(label)
        ax.set_title(f"process, stage {label}")
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle("demo pair (180 x 128^2 -> 128^3 zoom), small preset, CPU; shared machine: compare ratios")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small", choices=["small", "medium", "standard"])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--work", type=Path, default=None, help="working directory (default: a temporary one)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", choices=list(CONFIGS), help=argparse.SUPPRESS)
    parser.add_argument("--pair", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.pair, args.work / "out" / args.child, args.preset, args.child)))
        return

    from pipeline.simulate import SimulationConfig, simulate_pair

    with tempfile.TemporaryDirectory(prefix="scoutzoom-bench-stages-") as temp:
        work = args.work or Path(temp)
        work.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        simulate_pair(work / "simulated", SimulationConfig(ratio=RATIO, seed=SEED), overwrite=True)
        simulate_s = time.perf_counter() - started
        runs: dict[str, dict[str, Any]] = {}
        skipped: list[str] = []
        for name in args.configs:
            if not _supported(CONFIGS[name]):
                skipped.append(name)
                continue
            runs[name] = _run_child(work / "simulated" / "pair", work, args.preset, name)
            print(name, runs[name].get("status"), runs[name].get("total_seconds"), flush=True)

    result = {
        "benchmark": "process_stages",
        "pair": {"ratio": RATIO, "seed": SEED, "angles": 180, "detector_px": 128, "zoom_grid": "128^3"},
        "preset": args.preset,
        "model_cache": "off",
        "device": "CPU (CUDA_VISIBLE_DEVICES empty)",
        "simulate_seconds": round(simulate_s, 2),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_average_at_end": os.getloadavg()},
        "note": "shared machine: absolute times vary with the load; compare the ratios of one invocation",
        "configs_skipped": skipped,
        "runs": runs,
        "ratios": _ratios(runs),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "process_stages.json").write_text(json.dumps(result, indent=2) + "\n")
    _plot(runs, args.out / "process_stages.png")
    print(json.dumps(result["ratios"], indent=2))


if __name__ == "__main__":
    main()
