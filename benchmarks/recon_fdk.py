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

The back-projection kernel alone (``fdk_backproject.backproject`` on the
filtered projections, the backend's batches) is timed on one thread and on
all threads: ``kernel`` in each case. ``reconstruct()``'s figures also hold the
backend set-up (the field-of-view mask, backend probing), which the kernel's
do not.

Roofline (voxel-updates/s per core): each update needs 4 projection samples
(bilinear) and ~25 flops; this core issues 2 loads per cycle and has no fast
gather (AVX-512 gathers measured slower than scalar loads on this Zen 4), so
at most one update per 2 cycles with one load per sample. The kernel now
fetches each voxel's 4 samples with two 8-byte loads (horizontal neighbours
are adjacent in memory), so for it the load-port bound is 1 cycle per update:
both are written down, the kernel is compared with each. The clock is measured
here from a chain of dependent multiply-adds (6 cycles each on Zen), the load
rate from a loop of 4 dependent-address scalar loads per step in L1. On a
loaded shared VM, CPU seconds stretch (the clock measured from them drops
alike), so compare figures of one run.

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


def loads_per_cycle(clock_ghz: float) -> float:
    """Scalar float loads per cycle at L1: per step an index load and 4 sample loads from a 128 x 32 table,
    8 independent sums (throughput, not latency): the roofline's '2 loads per cycle', measured."""
    import numba

    @numba.njit(fastmath=True, error_model="numpy", boundscheck=False)
    def loads(flat, at, reps, stride):  # noqa: ANN001, ANN202
        s, one = np.uintp(stride), np.uintp(1)
        sums = np.zeros(8, np.float32)
        for _ in range(reps):
            for i in range(0, at.size, 8):
                for lane in range(8):
                    p = np.uintp(at[i + lane])
                    sums[lane] += flat[p] + flat[p + one] + flat[p + s] + flat[p + s + one]
        return sums.sum()

    columns, nx, reps = 128, 128, 400_000
    rng = np.random.default_rng(0)
    flat = rng.random(32 * columns, dtype=np.float32)
    at = (rng.integers(0, 30, nx) * columns + rng.integers(0, columns - 1, nx)).astype(np.uint32)
    loads(flat, at, 1, columns)
    cpu = min(timed(loads, flat, at, reps, columns)[2] for _ in range(3))  # best of 3: load only slows it
    return 5 * reps * nx / cpu / (clock_ghz * 1e9)


def kernel_per_cpu_s(scan, grid, filtered, repeats: int = 3) -> dict[str, float | list[float]]:  # noqa: ANN001
    """Voxel-updates per CPU second of the back-projection kernel alone, on 1 thread and on all (per core):
    the best of ``repeats`` runs (a shared machine only ever slows a run down), and each run's figure."""
    import numba

    from pipeline.reconstruct.backends.fdk_numba import projection_batch
    from pipeline.reconstruct.fdk_backproject import backproject, detector_matrices

    matrices = detector_matrices(scan.meta.geometry, grid, 0)
    data = filtered.data
    size = projection_batch(data.shape[0])
    updates = grid.n_voxels * data.shape[0]
    row: dict[str, float | list[float]] = {}
    available = numba.get_num_threads()
    for key, threads in (("one_thread", 1), ("all_threads", available)):
        numba.set_num_threads(threads)
        per_cpu, per_wall = [], []
        for _ in range(repeats):
            out = np.zeros(grid.shape_zyx, dtype=np.float32)
            wall0, cpu0 = time.perf_counter(), time.process_time()
            for a0 in range(0, data.shape[0], size):
                backproject(data[a0 : a0 + size], matrices[a0 : a0 + size], out)
            per_wall.append(updates / (time.perf_counter() - wall0))
            per_cpu.append(updates / (time.process_time() - cpu0))
        row[f"{key}_updates_per_cpu_s"] = max(per_cpu)
        row[f"{key}_updates_per_s"] = max(per_wall)
        row[f"{key}_updates_per_cpu_s_repeats"] = per_cpu
    numba.set_num_threads(available)
    return row


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
    row["kernel"] = kernel_per_cpu_s(scan, grid, filtered)
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
    if all("kernel" in r for r in rows):
        ax.plot(
            [r["voxel_updates"] for r in rows],
            [r["kernel"]["one_thread_updates_per_cpu_s"] / 1e6 for r in rows],
            ":",
            marker="^",
            label="numba back-projection kernel alone, 1 thread, per CPU second",
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
    load_before = os.getloadavg()
    from pipeline.reconstruct.backends import make_backend

    _, _, probe_cpu = timed(make_backend, "numba")  # paid by every reconstruct() with this backend, not by RTK's
    clock = measure_clock_ghz()
    load_rate = loads_per_cycle(clock)
    rows = []
    if args.demo:
        rows.append(one_case(make_scan(128, 180), 128, "demo scout 180x128^2 -> 128^3"))
    scan = make_scan(args.detector, args.angles)
    sweep = [one_case(scan, n, f"{args.angles}x{args.detector}^2 -> {n}^3") for n in args.sizes]
    rows += sweep
    roofline = clock * 1e9 / 2.0  # one update per 2 cycles: 4 samples at 2 loads/cycle
    pair_bound = clock * 1e9 / 1.0  # the kernel's 2 eight-byte sample loads at 2 loads/cycle
    measured_roofline = clock * 1e9 * load_rate / 4.0  # 4 scalar sample loads at the measured load rate
    best = max(r["kernel"]["one_thread_updates_per_cpu_s"] for r in rows)
    worst = min(r["kernel"]["one_thread_updates_per_cpu_s"] for r in rows)
    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_at_start": load_before,
            "load_average_at_end": os.getloadavg(),
            "clock_ghz_measured": clock,
            "numba_backend_setup_cpu_seconds": probe_cpu,
            "gpu": None,
        },
        "cases": rows,
        "time_exponent_vs_voxels": {"rtk": exponent(sweep, "rtk"), "numba": exponent(sweep, "numba")},
        "roofline": {
            "updates_per_s_per_core": roofline,
            "model": "4 bilinear samples per voxel-update, 2 loads/cycle, no fast gather: "
            "2 cycles/update at the measured clock",
            "loads_per_cycle_measured_l1": load_rate,
            "roofline_at_measured_load_rate_per_s_per_core": measured_roofline,
            "numba_kernel_below_roofline_at_measured_load_rate_x": measured_roofline / best,
            "pair_load_bound_per_s_per_core": pair_bound,
            "pair_load_model": "the kernel loads the 4 samples as 2 horizontal pairs (8 bytes each): "
            "1 cycle/update at 2 loads/cycle",
            "numba_kernel_one_thread_best_per_core": best,
            "numba_kernel_one_thread_worst_per_core": worst,
            "cycles_per_update_best": clock * 1e9 / best,
            "numba_kernel_below_roofline_x": roofline / best,
            "numba_kernel_below_roofline_x_worst_case": roofline / worst,
            "numba_kernel_below_pair_load_bound_x": pair_bound / best,
        },
        "note": "CPU only (no GPU lent to this task). Ratios, not absolute times: the 2 cores are shared. "
        "Kernel figures and the load rate are the best of 3 runs; reconstruct() figures are single runs.",
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
