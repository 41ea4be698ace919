"""Benchmark: registration error and time per resolution ratio on simulated pairs through FDK.

Each case is a pair from the physics simulator (``pipeline.simulate``) in the
foam study's geometry (zoom voxel 10 um, scout voxel ``ratio`` times it, zoom
by objective), with a stage error of 1-5 % of the zoom field of view, a
remount rotation of 0.3-2 deg about a random axis and a zoom scale error of
up to 2 %, drawn from the case's seed. Both scans are reconstructed by FDK
(zoom on its native grid, scout on the prior box at zoom voxels), then
registered with the product's defaults; the error is the RMS distance, over
the zoom's field of view, between where the found and the true zoom->scout
maps (``truth.json``) put each zoom voxel, in zoom voxels.

With ``--floor`` each case also records ``scout_floor_voxels``: the same
error for the best rotation + shift + scale fit of the scout to the voxelised
phantom, i.e. how close any registration that sees only that scout can get.

Seed sets are fixed: ``tune`` is what the method may be tuned on, ``holdout``
is only run for the final report. Simulated pairs and their FDK volumes are
cached under ``--work`` so reruns cost only the registration.

    python benchmarks/registration.py --label before --seeds tune
    python benchmarks/registration.py --label after --seeds all --floor
    python benchmarks/registration.py --summarise before after   # registration.json + registration.png
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.append(str(Path(__file__).resolve().parent.parent))  # benchmarks.foam_study; PYTHONPATH still wins
RESULTS = Path(__file__).resolve().parent / "results"
RATIOS = (3.0, 5.0, 7.0, 9.0)
SEEDS = {"tune": (1, 2, 3), "holdout": (101, 102, 103)}
# pore diameters (zoom voxels) of each pore set; "large" was added after the first runs showed that at 7:1 and
# 9:1 the scout does not see 6-20 voxel pores at all (its box correlates < 0.05 with the voxelised truth)
PORES = {"": (6.0, 20.0), "large": (10.0, 36.0)}
# "cpu": the foam study's own cpu size (96 px zoom, pores 8-30 voxels), added for the same reason: a 64-voxel
# zoom box holds only 7 scout voxels at 9:1
TARGETS_VOXELS = {3.0: 0.1, 5.0: 0.25, 7.0: 0.5, 9.0: 0.5}
ZOOM_DETECTOR_PX = 64


def _size(pores: str = ""):
    from benchmarks.foam_study.data import SIZES, StudySize

    if pores == "cpu":
        return SIZES["cpu"]
    count = 450 if pores == "" else 150
    return StudySize(zoom_detector_px=ZOOM_DETECTOR_PX, eval_px=32, angles=180, pores=count, pore_px=PORES[pores])


def perturbation(ratio: float, seed: int) -> dict[str, Any]:
    """Stage error (mm), remount rotation vector (deg) and zoom scale error of one case, from its seed."""
    rng = np.random.default_rng([seed, int(ratio)])
    fov_mm = ZOOM_DETECTOR_PX * _size().zoom_voxel_mm  # the same draws for every pore set
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    return {
        "stage_error_mm": float(rng.uniform(0.01, 0.05) * fov_mm),
        "remount_rotation_deg": tuple(float(v) for v in axis * rng.uniform(0.3, 2.0)),
        "zoom_scale_error": float(rng.uniform(-0.02, 0.02)),
    }


def prepare(ratio: float, seed: int, work: Path, pores: str = "") -> Path:
    """Simulate and reconstruct one case once; returns its folder (``volumes.npz`` + ``case.json``)."""
    from pipeline.acquisition.contract import pair_offset_mm
    from pipeline.acquisition.reader import read_scan
    from pipeline.reconstruct.reconstruct import reconstruct
    from pipeline.simulate import load_truth, simulate_pair

    folder = work / f"r{ratio:g}_s{seed}{'_' + pores if pores else ''}"
    if (folder / "case.json").exists():
        return folder
    settings = perturbation(ratio, seed)
    config = _size(pores).simulation(ratio, seed).model_copy(update=settings)
    start = time.perf_counter()
    simulate_pair(folder / "sim", config, overwrite=True)
    simulate_s = time.perf_counter() - start
    truth, _ = load_truth(folder / "sim" / "truth")
    scout = read_scan(folder / "sim" / "pair" / "scout")
    zoom = read_scan(folder / "sim" / "pair" / "zoom")
    zoom_grid = zoom.meta.native_grid()
    box_grid = zoom_grid.with_centre(tuple(pair_offset_mm(scout.meta, zoom.meta)))
    start = time.perf_counter()
    zoom_recon = reconstruct(zoom, zoom_grid)
    scout_recon = reconstruct(scout, box_grid)
    np.savez_compressed(
        folder / "volumes.npz",
        zoom=zoom_recon.volume,
        zoom_mask=zoom_recon.mask,
        scout=scout_recon.volume,
        scout_mask=scout_recon.mask,
    )
    record = {
        "ratio": ratio,
        "seed": seed,
        "pore_set": pores,
        "pores_zoom_voxels": _size(pores).pore_px,
        **settings,
        "zoom_grid": zoom_grid.model_dump(),
        "scout_box_grid": box_grid.model_dump(),
        "true_matrix": [list(row) for row in truth.zoom_to_scout],
        "simulate_s": simulate_s,
        "fdk_s": time.perf_counter() - start,
    }
    (folder / "case.json").write_text(json.dumps(record, indent=1))
    return folder


def _rms_voxels(zoom_grid, mask: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """RMS distance between where maps ``a`` and ``b`` ([3, 4]) put the zoom voxels inside ``mask`` (zoom voxels)."""
    nz, ny, nx = zoom_grid.shape_zyx
    k, j, i = np.meshgrid(np.arange(0, nz, 2), np.arange(0, ny, 2), np.arange(0, nx, 2), indexing="ij")
    index = np.stack([i, j, k], axis=-1)[mask[::2, ::2, ::2]].astype(float)
    points = zoom_grid.index_to_physical(index)
    diff = points @ (a[:, :3] - b[:, :3]).T + (a[:, 3] - b[:, 3])
    return float(np.sqrt(np.mean(np.sum(diff**2, axis=-1))) / zoom_grid.voxel_mm)


def run_case(folder: Path, threads: int, refine: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Register one prepared case with the product's defaults; error against the truth and time."""
    from pipeline.acquisition.reader import read_scan
    from pipeline.errors import RegistrationError
    from pipeline.grid import VolumeGrid
    from pipeline.reconstruct.reconstruct import reconstruct
    from pipeline.register import RegistrationConfig, register_scout_to_zoom

    record = json.loads((folder / "case.json").read_text())
    volumes = np.load(folder / "volumes.npz")
    zoom_grid = VolumeGrid.model_validate(record["zoom_grid"])
    box_grid = VolumeGrid.model_validate(record["scout_box_grid"])
    truth = np.asarray(record["true_matrix"], dtype=float)
    scout_scan = read_scan(folder / "sim" / "pair" / "scout")

    def reconstruct_scout(grid: VolumeGrid) -> tuple[np.ndarray, np.ndarray]:
        found = reconstruct(scout_scan, grid)
        return found.volume, found.mask

    mask = volumes["zoom_mask"].astype(bool)
    case: dict[str, Any] = {
        k: record[k] for k in ("ratio", "seed", "stage_error_mm", "remount_rotation_deg", "zoom_scale_error")
    }
    case["prior_error_voxels"] = _rms_voxels(
        zoom_grid, mask, np.hstack([np.eye(3), np.asarray(box_grid.centre_mm)[:, None]]), truth
    )
    start, cpu = time.perf_counter(), time.process_time()
    try:
        registered = register_scout_to_zoom(
            volumes["zoom"],
            volumes["zoom_mask"],
            zoom_grid,
            volumes["scout"],
            volumes["scout_mask"],
            box_grid,
            RegistrationConfig.model_validate({"threads": threads, "refine": refine, **(overrides or {})}),
            reconstruct_scout=reconstruct_scout if refine == "reconstruct" else None,
        )
    except RegistrationError as exc:
        figures = {k: v for k, v in exc.figures.items() if isinstance(v, (int, float, str))}
        case.update(failed=str(exc), figures=figures, total_s=time.perf_counter() - start)
        return case
    result = registered.result
    case.update(
        residual_rms_voxels=_rms_voxels(zoom_grid, mask, result.matrix, truth),
        centre_error_voxels=float(
            np.linalg.norm(np.asarray(result.zoom_centre_in_scout_mm) - truth[:, 3]) / zoom_grid.voxel_mm
        ),
        scale=list(result.scale),
        true_scale=1.0 / (1.0 + record["zoom_scale_error"]),
        rotation_deg=list(result.rotation_deg),
        ncc_before=result.ncc_before,
        ncc_after=result.ncc_after,
        total_s=time.perf_counter() - start,
        cpu_s=time.process_time() - cpu,
        seconds=result.seconds.model_dump(),
        warnings=result.warnings,
        confidence=result.confidence.model_dump(),
        transform_from=getattr(result, "transform_from", "affine"),
    )
    return case


def scout_floor_voxels(folder: Path) -> float:
    """How far the scout itself sits from the truth (zoom voxels): the RMS displacement, over the zoom's field of
    view, of the best rotation + shift + isotropic-scale fit of the scout box to the voxelised phantom.

    The phantom is rendered on the scout box at half a zoom voxel, blurred by the Gaussian that correlates best
    and fitted by NCC with both z-slice profiles removed, as the registration's metric data are. A registration
    that only sees this scout cannot be expected to beat the figure: it measures how much of the geometry the
    scout's noise and its FDK leave, not the method.
    """
    from scipy import ndimage, optimize
    from scipy.spatial.transform import Rotation

    from pipeline.grid import VolumeGrid
    from pipeline.simulate import load_truth
    from pipeline.simulate.voxelise import voxelise

    record = json.loads((folder / "case.json").read_text())
    volumes = np.load(folder / "volumes.npz")
    box = VolumeGrid.model_validate(record["scout_box_grid"])
    _, phantom = load_truth(folder / "sim" / "truth")
    half = tuple(v / 2 for v in box.spacing_mm)
    fine = box.model_copy(update={"spacing_mm": half, "shape_zyx": tuple(int(2.5 * n) for n in box.shape_zyx)})
    truth = voxelise(phantom, fine, supersample=2)
    mask = ndimage.binary_erosion(volumes["zoom_mask"].astype(bool) & volumes["scout_mask"].astype(bool), iterations=2)
    mask[:, ::2] = mask[:, :, ::2] = False  # a quarter of the voxels is plenty
    k, j, i = np.nonzero(mask)
    index = np.stack([i, j, k], axis=1).astype(float)
    centre = (np.asarray(box.shape_xyz, dtype=float) - 1.0) / 2.0
    fine_centre = (np.asarray(fine.shape_xyz, dtype=float) - 1.0) / 2.0
    slices = box.shape_zyx[0]

    def flat(values: np.ndarray) -> np.ndarray:
        means = np.bincount(k, values, slices) / np.maximum(np.bincount(k, None, slices), 1)
        return values - means[k]

    def linear(p: np.ndarray) -> np.ndarray:
        return Rotation.from_rotvec(np.radians(p[4:7])).as_matrix() * (1.0 + p[0])

    def sample(blurred: np.ndarray, p: np.ndarray) -> np.ndarray:
        at = 2.0 * ((index - centre) @ linear(p).T + p[1:4]) + fine_centre
        return flat(ndimage.map_coordinates(blurred, [at[:, 2], at[:, 1], at[:, 0]], order=1))

    scout = flat(volumes["scout"][mask].astype(float))
    start = np.zeros(7)
    blurred = max(
        (ndimage.gaussian_filter(truth, 2.0 * sigma) for sigma in (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0)),
        key=lambda b: np.corrcoef(sample(b, start), scout)[0, 1],
    )
    fit = optimize.minimize(
        lambda p: -np.corrcoef(sample(blurred, p), scout)[0, 1], start, method="Powell", options={"xtol": 1e-4}
    )
    shift = (index - centre) @ (linear(fit.x) - np.eye(3)).T + fit.x[1:4]
    return float(np.sqrt(np.mean(np.sum(shift**2, axis=1))))


def summarise_cases(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Per ratio: median and worst error, failures, median time."""
    summary = {}
    for ratio in RATIOS:
        rows = [c for c in cases if c["ratio"] == ratio]
        if not rows:
            continue
        ok = [c["residual_rms_voxels"] for c in rows if "residual_rms_voxels" in c]
        summary[f"{ratio:g}"] = {
            "cases": len(rows),
            "failed": len(rows) - len(ok),
            "median_error_voxels": float(np.median(ok)) if ok else None,
            "max_error_voxels": float(np.max(ok)) if ok else None,
            "target_voxels": TARGETS_VOXELS[ratio],
            "median_total_s": float(np.median([c["total_s"] for c in rows])) if rows else None,
        }
        floors = [c["scout_floor_voxels"] for c in rows if "scout_floor_voxels" in c]
        if floors:
            summary[f"{ratio:g}"]["median_scout_floor_voxels"] = float(np.median(floors))
    return summary


def run(
    label: str,
    seed_set: str,
    work: Path,
    threads: int,
    refine: str,
    ratios: tuple[float, ...],
    pores: str = "",
    floor: bool = False,
) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"registration_{label}.json"
    load = os.getloadavg()[0]
    done = {}
    for name in ("tune", "holdout") if seed_set == "all" else (seed_set,):
        cases = []
        for ratio in ratios:
            for seed in SEEDS[name][: 2 if name == "tune" else 1] if pores == "cpu" else SEEDS[name]:
                folder = prepare(ratio, seed, work, pores)
                case = run_case(folder, threads, refine)
                if floor:
                    case["scout_floor_voxels"] = scout_floor_voxels(folder)
                print(
                    json.dumps(
                        {
                            k: case.get(k)
                            for k in ("ratio", "seed", "residual_rms_voxels", "scout_floor_voxels", "total_s", "failed")
                        }
                    ),
                    flush=True,
                )
                cases.append(case)
        done[name + (f"_{pores}" if pores else "")] = {"summary": summarise_cases(cases), "cases": cases}
    previous = json.loads(out.read_text()) if out.exists() else {"sets": {}}  # read late: runs of other sets are kept
    previous["sets"].update(done)
    previous.update(
        benchmark="registration",
        label=label,
        refine=refine,
        machine={
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "threads": threads,
            "load_average_1min": [load, os.getloadavg()[0]],
        },
        pairs=f"simulator -> FDK; zoom {ZOOM_DETECTOR_PX} px detector at 10 um, scout voxel ratio x 10 um; stage error "
        f"1-5 % of the zoom FOV, "
        "rotation 0.3-2 deg, scale error up to 2 %",
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(previous, indent=1))
    return out


def summarise(labels: list[str]) -> None:
    """``registration.json`` (the labelled runs' summaries side by side) and ``registration.png``."""
    runs = {label: json.loads((RESULTS / f"registration_{label}.json").read_text()) for label in labels}
    combined = {
        "benchmark": "registration",
        "targets_voxels": {f"{r:g}": t for r, t in TARGETS_VOXELS.items()},
        "runs": {label: {name: s["summary"] for name, s in r["sets"].items()} for label, r in runs.items()},
        "files": {label: f"registration_{label}.json" for label in labels},
    }
    (RESULTS / "registration.json").write_text(json.dumps(combined, indent=1))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    markers = {
        "tune": "o",
        "holdout": "s",
        "tune_cpu": "^",
        "holdout_cpu": "v",
        "tune_large": "<",
        "holdout_large": ">",
    }
    for offset, (label, result) in enumerate(runs.items()):
        for name, data in result["sets"].items():
            xs = [c["ratio"] + 0.15 * (offset - 0.5) for c in data["cases"]]
            errors = [c.get("residual_rms_voxels", math.nan) for c in data["cases"]]
            failed = [x for x, c in zip(xs, data["cases"]) if "failed" in c]
            axes[0].scatter(xs, errors, marker=markers[name], label=f"{label} ({name})", color=f"C{offset}", alpha=0.8)
            axes[0].scatter(failed, [3.0] * len(failed), marker="x", color=f"C{offset}")
            axes[1].scatter(
                xs, [c["total_s"] for c in data["cases"]], marker=markers[name], color=f"C{offset}", alpha=0.8
            )
    axes[0].plot(
        [2.5, 3.5, 4.5, 5.5, 6.5, 9.5], [0.1, 0.1, 0.25, 0.25, 0.5, 0.5], color="k", linestyle="--", label="target"
    )
    axes[0].set(
        yscale="log",
        xlabel="resolution ratio",
        ylabel="residual RMS (zoom voxels); x at 3: failed",
        title="registration error",
    )
    axes[1].set(xlabel="resolution ratio", ylabel="seconds", title="registration time")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(RESULTS / "registration.png", dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="after")
    parser.add_argument("--seeds", choices=("tune", "holdout", "all"), default="tune")
    parser.add_argument("--ratios", type=float, nargs="+", default=list(RATIOS))
    parser.add_argument("--work", type=Path, default=Path("/tmp/scoutzoom-bench-registration"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--refine", choices=("reconstruct", "resample"), default="resample")
    parser.add_argument(
        "--pores",
        choices=tuple(PORES) + ("cpu",),
        default="",
        help="pore set ('cpu': the foam study's cpu size; 2 tune seeds, 1 holdout)",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also fit each scout to the voxelised phantom: how close any registration on it can get (seconds a case)",
    )
    parser.add_argument(
        "--summarise", nargs="+", metavar="LABEL", help="combine labelled runs into registration.json and a plot"
    )
    args = parser.parse_args()
    os.environ.setdefault("ITK_GLOBAL_DEFAULT_THREADER", "Pool")
    if args.summarise:
        summarise(args.summarise)
        return
    print(run(args.label, args.seeds, args.work, args.threads, args.refine, tuple(args.ratios), args.pores, args.floor))


if __name__ == "__main__":
    main()
