"""CPU FDK time and peak memory vs output size, and slab streaming under a memory budget.

    python benchmarks/recon_fdk.py [--sizes 128 256] [--detector 256] [--angles 360]
                                   [--stream 256x256x128] [--budget-gb 0.1]

Writes benchmarks/results/recon_fdk.json. Each case runs in a fresh process so
peak RSS (ru_maxrss) belongs to that case alone; RTK's import is excluded from
the time. Paper-scale flags: --sizes 128 256 512 --detector 512 --stream 1024x1024x512.
No GPU machine was available when this was written: GPU figures are absent.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("ITK_GLOBAL_DEFAULT_THREADER", "Pool")


def one_case(size_zyx: tuple[int, int, int], detector: int, angles: int, budget_gb: float, memmap: bool) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from pipeline.acquisition.scan import Scan
    from pipeline.grid import VolumeGrid
    from pipeline.reconstruct import ReconConfig, reconstruct
    from pipeline.reconstruct._itk import itk_modules
    from tests.pipeline.reconstruct.phantoms import Cylinder, make_meta, project

    itk_modules()
    warm = make_meta(detector=(16, 16), angles=8, span_deg=360.0)
    reconstruct(Scan(meta=warm, line_integrals=np.zeros((8, 16, 16), np.float32)), VolumeGrid.isotropic((4, 4, 4), 0.02))
    meta = make_meta(detector=(detector, detector), pitch_mm=0.2 * 64 / detector, angles=angles)
    projections = project(meta.geometry, [Cylinder((0.0, 0.0, 0.0), 0.5, 20.0, 1.0)])
    scan = Scan(meta=meta, line_integrals=projections)
    radius = meta.geometry.field_of_view_radius_mm()
    nz, ny, nx = size_zyx
    grid = VolumeGrid(shape_zyx=size_zyx, spacing_mm=(2 * radius / nx, 2 * radius / ny, meta.geometry.field_of_view_height_mm() / nz))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out = None
    with tempfile.TemporaryDirectory() as tmp:
        if memmap:
            out = np.memmap(Path(tmp) / "out.raw", dtype=np.float32, mode="w+", shape=size_zyx)
        started = time.perf_counter()
        result = reconstruct(scan, grid, ReconConfig(memory_budget_gb=budget_gb), out=out)
        seconds = time.perf_counter() - started
        del out, result.volume
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "output_zyx": list(size_zyx), "detector": detector, "angles": angles, "seconds": seconds,
        "voxels": nz * ny * nx, "slabs": result.slabs, "budget_bytes": budget_gb * 1024**3,
        "estimated_peak_slab_bytes": result.peak_slab_bytes, "peak_rss_bytes": peak, "peak_rss_above_baseline_bytes": peak - rss_before,
        "rss_before_bytes": rss_before, "projection_bytes": int(projections.nbytes), "memmap": memmap,
    }


def run_child(args: list[str]) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--detector", type=int, default=256)
    parser.add_argument("--angles", type=int, default=360)
    parser.add_argument("--stream", default="256x256x128", help="streaming case, XxYxZ")
    parser.add_argument("--budget-gb", type=float, default=0.1)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        nz, ny, nx, detector, angles = (int(v) for v in args.child[:5])
        budget, memmap = float(os.environ["BENCH_BUDGET_GB"]), os.environ["BENCH_MEMMAP"] == "1"
        print(json.dumps(one_case((nz, ny, nx), detector, angles, budget, memmap)))
        return
    cases = []
    for size in args.sizes:
        os.environ.update(BENCH_BUDGET_GB="64", BENCH_MEMMAP="0")
        cases.append(run_child([str(size)] * 3 + [str(args.detector), str(args.angles)]))
    x, y, z = (int(v) for v in args.stream.split("x"))
    os.environ.update(BENCH_BUDGET_GB=str(args.budget_gb), BENCH_MEMMAP="1")
    stream = run_child([str(z), str(y), str(x), str(args.detector), str(args.angles)])
    exponent = None
    if len(cases) >= 2:
        exponent = float(np.polyfit(np.log([c["voxels"] for c in cases]), np.log([c["seconds"] for c in cases]), 1)[0])
    result = {
        "machine": {"cpus": os.cpu_count(), "threader": os.environ["ITK_GLOBAL_DEFAULT_THREADER"], "gpu": None},
        "cases": cases, "time_exponent_vs_voxels": exponent, "streaming": stream,
        "streaming_within_budget": stream["estimated_peak_slab_bytes"] <= stream["budget_bytes"],
        "note": "CPU (RTK) only; no GPU machine was available, so TIGRE / RTK CUDA figures are missing.",
    }
    out = Path(__file__).resolve().parent / "results" / "recon_fdk.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "cases"}, indent=2), file=sys.stderr)
    for c in cases:
        print(c["output_zyx"], f"{c['seconds']:.1f} s", f"+{c['peak_rss_above_baseline_bytes'] / 2**20:.0f} MiB", file=sys.stderr)


if __name__ == "__main__":
    main()
