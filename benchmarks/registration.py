"""Benchmark: registration time per step and accuracy on synthetic foam pairs.

1. Timing: a 128^3 zoom grid (and 256^3 with ``--large``), 3:1 blur, stage
   error 5 % of the field of view, ~2 deg rotation, 2 % scale error; seconds
   per step (FFT, translation, 9 parameters, resample) and total. The scout
   is resampled (no reconstructor), so the figures are the stage's own cost.
2. Accuracy versus noise level (3:1) and versus resolution ratio (3:1 to 9:1)
   at ``--sweep-size`` (default 64^3): residual displacement RMS over the zoom
   field of view against the known map, in zoom voxels, and the FFT step's
   own error.

Writes ``benchmarks/results/registration.json``.

    python benchmarks/registration.py [--large] [--sweep-size 64] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "registration.json"
ROTATION_DEG = (0.6, -1.0, 1.5)
SCALE = (1.02, 0.985, 1.01)


def _case(size: int, ratio: float, noise: float, threads: int, seed: int) -> dict[str, Any]:
    from pipeline.errors import RegistrationError
    from pipeline.register import RegistrationConfig, register_scout_to_zoom
    from pipeline.register.frames import displacement_rms_voxels, grid_in_scout
    from pipeline.register.synthetic import make_pair

    voxel_mm = 0.01
    fov_mm = size * voxel_mm
    stage_error = (0.05 * fov_mm, -0.047 * fov_mm, 0.039 * fov_mm)
    start = time.perf_counter()
    pair = make_pair(size, voxel_mm, ratio, noise, stage_error, ROTATION_DEG, SCALE, seed=seed)
    synth_s = time.perf_counter() - start
    case: dict[str, Any] = {"size": size, "ratio": ratio, "noise": noise, "seed": seed, "synthesis_s": round(synth_s, 2)}
    start = time.perf_counter()
    cpu_start = time.process_time()
    try:
        registered = register_scout_to_zoom(
            pair.zoom, pair.zoom_mask, pair.zoom_grid, pair.scout, pair.scout_mask, pair.scout_box_grid, RegistrationConfig(threads=threads)
        )
    except RegistrationError as exc:
        case.update(failed=str(exc), total_s=round(time.perf_counter() - start, 2))
        return case
    result = registered.result
    fft_grid = grid_in_scout(pair.zoom_grid, np.eye(3), np.ones(3), np.add(result.prior_centre_mm, result.fft_shift_mm))
    true_shift = (pair.true_matrix[:, 3] - np.asarray(result.prior_centre_mm)) / voxel_mm
    case.update(
        total_s=round(time.perf_counter() - start, 2),
        cpu_s=round(time.process_time() - cpu_start, 2),
        seconds={k: round(v, 2) for k, v in result.seconds.model_dump().items()},
        residual_rms_voxels=round(displacement_rms_voxels(pair.true_zoom_grid_in_scout, result.zoom_grid_in_scout, pair.zoom_mask, stride=2), 4),
        fft_translation_error_voxels=round(float(np.max(np.abs(np.asarray(result.fft_shift_mm) / voxel_mm - true_shift))), 3),
        fft_rms_voxels=round(displacement_rms_voxels(pair.true_zoom_grid_in_scout, fft_grid, pair.zoom_mask, stride=2), 3),
        ncc_before=round(result.ncc_before, 3),
        ncc_after=round(result.ncc_after, 3),
        iterations=result.iterations,
        warnings=result.warnings,
    )
    return case


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also time a 256^3 zoom grid")
    parser.add_argument("--sweep-size", type=int, default=64, help="zoom grid edge for the accuracy sweeps (0: skip them)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    os.environ.setdefault("ITK_GLOBAL_DEFAULT_THREADER", "Pool")

    timing = [_case(128, 3.0, 0.03, args.threads, seed=11)]
    if args.large:
        timing.append(_case(256, 3.0, 0.03, args.threads, seed=12))
    noise_sweep = []
    ratio_sweep = []
    if args.sweep_size > 0:
        noise_sweep = [_case(args.sweep_size, 3.0, noise, args.threads, seed=20 + i) for i, noise in enumerate((0.01, 0.03, 0.1, 0.2))]
        ratio_sweep = [_case(args.sweep_size, ratio, 0.05, args.threads, seed=30 + i) for i, ratio in enumerate((3.0, 5.0, 7.0, 9.0))]
    report = {
        "benchmark": "registration",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "threads": args.threads, "load_average_1min": [load_before, os.getloadavg()[0]]},
        "note": "total_s is wall time; cpu_s is CPU time of all threads (wall time is inflated when the machine is shared)",
        "transform": {"stage_error_fraction_of_fov": [0.05, -0.047, 0.039], "rotation_deg": ROTATION_DEG, "scale": SCALE},
        "timing": timing,
        "accuracy_vs_noise": noise_sweep,
        "accuracy_vs_ratio": ratio_sweep,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
