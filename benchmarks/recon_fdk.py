"""CPU FDK throughput of the numba backend against RTK, side by side in one run, and a roofline.

    python benchmarks/recon_fdk.py [--sizes 96 128 192] [--detector 256] [--angles 360] [--demo/--no-demo]

For each output size (N^3, the field of view of a ``--angles`` x ``--detector``^2
scan) RTK and numba reconstruct the same scan one after the other in this one
process, so a busy shared machine slows both alike; the demo scout's case
(180 x 128^2 onto 128^3) is added. Figures: wall seconds, process CPU seconds
(all threads), voxel-updates (voxels x angles) per wall second and per CPU
second (= per core busy), the numba/RTK ratio of both, the largest difference
between the two volumes relative to RTK's range, and the growth exponent of
time vs voxels. Imports and numba's compilation are paid before timing.

Roofline (voxel-updates/s per core): each update needs 4 projection samples
(bilinear) and ~25 flops; this core issues 2 loads per cycle and has no fast
gather, so at most one update per 2 cycles. The clock is measured here from a
chain of dependent multiply-adds (6 cycles each on Zen). The same run measures
the two halves of the numba kernel alone, with all data in L1: the vectorised
projection arithmetic and the scalar sample-and-interpolate pass.

Writes benchmarks/results/recon_fdk.json and recon_fdk.png.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("ITK_GLOBAL_DEFAULT_THREADER", "Pool")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RESULTS = Path(__file__).resolve().parent / "results"
_CHAIN_CYCLES = 6.0  # dependent vmulss + vaddss latency on AMD Zen (3 + 3 cycles)


def timed(fn, *args, **kwargs):  # noqa: ANN001, ANN201 - benchmark helper
    wall0, cpu0 = time.perf_counter(), time.process_time()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - wall0, time.process_time() - cpu0


def measure_clock_ghz() -> float:
    """Effective core clock from a dependent multiply-add chain (CPU time, so other load does not count)."""
    import numba

    @numba.njit
    def chain(n: int, a: float) -> float:
        x = 1.0
        for _ in range(n):
            x = x * a + 1e-9
        return x

    chain(10, 0.5)
    n = 100_000_000
    _, _, cpu = timed(chain, n, 0.999999)
    return _CHAIN_CYCLES * n / cpu / 1e9


def kernel_halves_per_core() -> dict[str, float]:
    """Updates/s per core of the kernel's two passes alone, on L1-resident data (128 voxels, 32 x 128 detector)."""
    import numba

    @numba.njit(fastmath=True, error_model="numpy")
    def samples(flat, at, fus, fvs, ws, acc, reps, stride):  # noqa: ANN001, ANN202
        s, one = np.uintp(stride), np.uintp(1)
        for _ in range(reps):
            for i in range(acc.size):
                p = np.uintp(at[i])
                top = flat[p] + fus[i] * (flat[p + one] - flat[p])
                bottom = flat[p + s] + fus[i] * (flat[p + s + one] - flat[p + s])
                acc[i] += ws[i] * (top + fvs[i] * (bottom - top))

    @numba.njit(fastmath={"contract", "arcp", "afn", "reassoc", "nsz"}, error_model="numpy")
    def arithmetic(xs, acc, reps):  # noqa: ANN001, ANN202
        one, zero = np.float32(1), np.float32(0)
        for _ in range(reps):
            for i in range(acc.size):
                x = xs[i]
                w = np.float32(1.1) + np.float32(1e-3) * x
                inv = one / w
                u = (np.float32(3.0) + np.float32(0.9) * x) * inv
                v = (np.float32(5.0) + np.float32(1e-3) * x) * inv
                inside = (w > zero) & (u >= -0.5) & (u < 127.5) & (v >= -0.5) & (v < 30.5)
                acc[i] += (inv * inv) if inside else zero

    rng = np.random.default_rng(0)
    columns, nx, reps = 128, 128, 1_000_000
    flat = rng.random(32 * columns, dtype=np.float32)
    at = (np.arange(nx) + 5 * columns).astype(np.uint32)
    fus, fvs, ws = (rng.random(nx, dtype=np.float32) for _ in range(3))
    acc, xs = np.zeros(nx, np.float32), np.arange(nx, dtype=np.float32)
    samples(flat, at, fus, fvs, ws, acc, 1, columns)
    arithmetic(xs, acc, 1)
    _, _, cpu_s = timed(samples, flat, at, fus, fvs, ws, acc, reps, columns)
    _, _, cpu_a = timed(arithmetic, xs, acc, reps)
    n = reps * nx
    return {
        "sample_pass_per_core": n / cpu_s,
        "arithmetic_pass_per_core": n / cpu_a,
        "both_passes_per_core": n / (cpu_s + cpu_a),
    }


def make_scan(detector: int, angles: int):  # noqa: ANN201
    from pipeline.acquisition.scan import Scan
    from tests.pipeline.reconstruct.phantoms import Cylinder, Sphere, make_meta, project

    meta = make_meta(detector=(detector, detector), pitch_mm=0.2 * 64 / detector, angles=angles)
    shapes = [Cylinder((0.0, 0.0, 0.0), 0.5, 20.0, 1.0), Sphere((0.15, -0.1, 0.05), 0.12, -0.6)]
    return Scan(meta=meta, line_integrals=project(meta.geometry, shapes))


def fov_grid(scan, n: int):  # noqa: ANN001, ANN201
    from pipeline.grid import VolumeGrid

    geometry = scan.meta.geometry
    radius = geometry.field_of_view_radius_mm()
    return VolumeGrid(
        shape_zyx=(n, n, n), spacing_mm=(2 * radius / n, 2 * radius / n, geometry.field_of_view_height_mm() / n)
    )


def one_case(scan, n: int, label: str) -> dict:  # noqa: ANN001
    from pipeline.reconstruct import ReconConfig, filter_scan, reconstruct

    grid = fov_grid(scan, n)
    updates = grid.n_voxels * scan.meta.geometry.n_angles
    row: dict = {
        "case": label,
        "output_zyx": list(grid.shape_zyx),
        "angles": scan.meta.geometry.n_angles,
        "detector": list(scan.meta.geometry.detector_shape),
        "voxel_updates": updates,
    }
    volumes = {}
    for backend in ("rtk", "numba"):
        result, wall, cpu = timed(reconstruct, scan, grid, ReconConfig(backend=backend, memory_budget_gb=16))
        volumes[backend], mask = result.volume, result.mask
        row[backend] = {
            "seconds": wall,
            "cpu_seconds": cpu,
            "updates_per_s": updates / wall,
            "updates_per_cpu_s": updates / cpu,
        }
        print(f"{label} {backend}: {wall:.1f} s wall, {cpu:.1f} s cpu", file=sys.stderr, flush=True)
    filtered, filter_wall, filter_cpu = timed(filter_scan, scan)
    _, bp_wall, bp_cpu = timed(
        reconstruct, scan, grid, ReconConfig(backend="numba", memory_budget_gb=16), filtered=filtered
    )
    row["numba_filter_once"] = {
        "filter_seconds": filter_wall,
        "filter_cpu_seconds": filter_cpu,
        "backproject_seconds": bp_wall,
        "backproject_updates_per_cpu_s": updates / bp_cpu,
    }
    row["ratio_wall"] = row["rtk"]["seconds"] / row["numba"]["seconds"]
    row["ratio_cpu"] = row["rtk"]["cpu_seconds"] / row["numba"]["cpu_seconds"]
    rtk = volumes["rtk"]
    diff = np.abs(volumes["numba"] - rtk) / np.ptp(rtk)
    row["max_abs_diff_over_range"] = float(diff.max())
    row["max_abs_diff_over_range_in_mask"] = float(diff[mask].max())
    return row


def exponent(rows: list[dict], backend: str) -> float | None:
    if len(rows) < 2:
        return None
    x = np.log([r["voxel_updates"] for r in rows])
    y = np.log([r[backend]["seconds"] for r in rows])
    return float(np.polyfit(x, y, 1)[0])


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(rows, key=lambda r: r["voxel_updates"])
    fig, ax = plt.subplots(figsize=(6, 4))
    for backend, marker in (("rtk", "o"), ("numba", "s")):
        for key, style in (("updates_per_s", "-"), ("updates_per_cpu_s", "--")):
            ax.plot(
                [r["voxel_updates"] for r in rows],
                [r[backend][key] / 1e6 for r in rows],
                style,
                marker=marker,
                label=f"{backend}, per {'wall' if key == 'updates_per_s' else 'CPU'} second",
            )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="voxel-updates (voxels x angles)",
        ylabel="M voxel-updates / s",
        title="CPU FDK throughput, same run",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[96, 128, 192])
    parser.add_argument("--detector", type=int, default=256)
    parser.add_argument("--angles", type=int, default=360)
    parser.add_argument(
        "--demo", action=argparse.BooleanOptionalAction, default=True, help="add 180 x 128^2 onto 128^3"
    )
    parser.add_argument("--replot", action="store_true", help="only redraw the plot from the JSON")
    args = parser.parse_args()
    if args.replot:
        plot(json.loads((RESULTS / "recon_fdk.json").read_text())["cases"], RESULTS / "recon_fdk.png")
        return

    from pipeline.grid import VolumeGrid
    from pipeline.reconstruct import ReconConfig, reconstruct
    from pipeline.reconstruct._itk import itk_modules

    itk_modules()
    warm = make_scan(16, 8)
    for backend in ("rtk", "numba"):  # RTK's lazy loading and numba's compilation / cache load, untimed
        reconstruct(warm, VolumeGrid.isotropic((4, 4, 4), 0.02), ReconConfig(backend=backend))
    clock = measure_clock_ghz()
    halves = kernel_halves_per_core()
    rows = []
    if args.demo:
        rows.append(one_case(make_scan(128, 180), 128, "demo scout 180x128^2 -> 128^3"))
    scan = make_scan(args.detector, args.angles)
    sweep = [one_case(scan, n, f"{args.angles}x{args.detector}^2 -> {n}^3") for n in args.sizes]
    rows += sweep
    roofline = clock * 1e9 / 2.0  # one update per 2 cycles: 4 samples at 2 loads/cycle
    best = max(r["numba_filter_once"]["backproject_updates_per_cpu_s"] for r in rows)
    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_at_end": os.getloadavg(),
            "clock_ghz_measured": clock,
            "gpu": None,
        },
        "cases": rows,
        "time_exponent_vs_voxels": {"rtk": exponent(sweep, "rtk"), "numba": exponent(sweep, "numba")},
        "roofline": {
            "updates_per_s_per_core": roofline,
            "model": "4 bilinear samples per voxel-update, 2 loads/cycle, no fast gather: "
            "2 cycles/update at the measured clock",
            "kernel_halves_in_l1": halves,
            "numba_backprojection_best_per_core": best,
            "numba_backprojection_below_roofline_x": roofline / best,
        },
        "note": "CPU only (no GPU lent to this task). Ratios, not absolute times: the 2 cores are shared.",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "recon_fdk.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(rows, RESULTS / "recon_fdk.png")
    for r in rows:
        print(
            f"{r['case']}: rtk {r['rtk']['seconds']:.1f} s, numba {r['numba']['seconds']:.1f} s, "
            f"x{r['ratio_wall']:.1f} wall "
            f"(x{r['ratio_cpu']:.1f} cpu), max diff {r['max_abs_diff_over_range']:.1e} of range",
            file=sys.stderr,
        )
    print(json.dumps(result["roofline"], indent=2), file=sys.stderr)


if __name__ == "__main__":
    main()
