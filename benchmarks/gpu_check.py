"""GPU check: training steps/s and inference voxels/s of the ``standard`` U-Net on the Keras backend of
``KERAS_BACKEND`` (jax or torch), and a numba-cuda back-projection checked against the numba CPU one.

Run by ``benchmarks/gpu_check.sh`` (which installs keras and pydantic from carried wheels). Writes JSON to
``$OUT/gpu_check.json`` when ``OUT`` is set, else ``benchmarks/results/gpu_check.json``, after every section,
so a run cut short keeps what it measured. ``GPU_CHECK_SMALL=1`` shrinks every size (a CPU rehearsal; the
FDK part then runs on numba's CUDA simulator when no device is seen).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

SMALL = os.environ.get("GPU_CHECK_SMALL") == "1"
# sizes: (training tile px, training steps, inference slab zyx, FDK check n, FDK throughput n)
SIZES = (32, 3, (8, 64, 64), 8, 8) if SMALL else (128, 100, (64, 1024, 1024), 128, 512)
TRAIN_SECONDS = 5.0 if SMALL else 45.0  # stop timing training after this long, whatever the step count
FDK_TOLERANCE = 1e-3  # max |GPU - CPU| / range of the CPU volume (the tolerance against RTK)


def output_path() -> Path:
    """Where the JSON goes: $OUT/gpu_check.json, else benchmarks/results/gpu_check.json."""
    if os.environ.get("OUT"):
        return Path(os.environ["OUT"]) / "gpu_check.json"
    return ROOT / "benchmarks" / "results" / "gpu_check.json"


def environment() -> dict:
    """Machine, backend and the accelerators it sees."""
    import keras

    from models.device import accelerator_present

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "accelerator": accelerator_present(),
        "small": SMALL,
    }


def training() -> dict:
    """Steps/s of the standard network's training step (batch 4, the pipeline's loss; mixed precision on a GPU)."""
    from models.config import NetworkConfig, TrainingConfig
    from models.device import accelerator_present
    from models.train import build_training_model

    network, config = NetworkConfig(), TrainingConfig()
    tile, steps = SIZES[0], SIZES[1]
    mixed = config.mixed_precision and accelerator_present()
    model = build_training_model(network, config, mixed=mixed)
    rng = np.random.default_rng(0)
    x = rng.random((config.batch_size, tile, tile, network.slices), dtype=np.float32)
    y = np.concatenate([x[..., network.slices // 2 :][..., :1], np.ones_like(x[..., :1])], axis=-1)
    started = time.perf_counter()
    model.train_on_batch(x, [y, y])  # trace and compile
    first = time.perf_counter() - started
    model.train_on_batch(x, [y, y])
    done, started = 0, time.perf_counter()
    while done < steps and time.perf_counter() - started < TRAIN_SECONDS:
        model.train_on_batch(x, [y, y])
        done += 1
    _ = float(np.asarray(model.train_on_batch(x, [y, y])[0]))  # wait for the device
    seconds = time.perf_counter() - started
    return {
        "network": network.model_dump(),
        "parameters": int(model.count_params()),
        "tile_px": tile,
        "batch": config.batch_size,
        "mixed_precision": mixed,
        "first_step_s": first,
        "steps": done + 1,
        "steps_per_s": (done + 1) / seconds,
    }


def inference() -> dict:
    """Voxels/s of the standard network (float32) over a whole slab, one z-slice per prediction, batch 4."""
    from models.config import NetworkConfig
    from models.unet import build_unet25d, inference_model

    network = NetworkConfig()
    model = inference_model(build_unet25d(network))
    nz, ny, nx = SIZES[2]
    half = network.slices // 2
    slab = np.random.default_rng(1).random((nz + 2 * half, ny, nx), dtype=np.float32)
    batch = 4

    def run(z0: int, z1: int) -> np.ndarray:
        stacks = np.stack([np.moveaxis(slab[z : z + network.slices], 0, -1) for z in range(z0, z1)])
        return np.asarray(model.predict_on_batch(stacks))  # the backend's compiled predict step

    started = time.perf_counter()
    run(0, batch)  # trace and compile
    first = time.perf_counter() - started
    started = time.perf_counter()
    out = [run(z, min(z + batch, nz)) for z in range(0, nz, batch)]
    seconds = time.perf_counter() - started
    assert np.isfinite(np.concatenate(out)).all()
    return {
        "slab_zyx": [nz, ny, nx],
        "batch_slices": batch,
        "first_batch_s": first,
        "seconds": seconds,
        "voxels_per_s": nz * ny * nx / seconds,
        "note": f"whole {ny} x {nx} slices, no tiling or overlap; includes host-device copies",
    }


def _fdk_case(n: int, angles: int):
    """Detector matrices, random filtered projections and the grid of an n^3 volume from angles x n^2."""
    from pipeline.acquisition.contract import Geometry
    from pipeline.grid import VolumeGrid
    from pipeline.reconstruct.fdk_backproject import detector_matrices

    geometry = Geometry.model_validate(
        {
            "source_to_axis_mm": 25.0,
            "source_to_detector_mm": 250.0,
            "detector_shape": [n, n],
            "detector_pixel_mm": [0.2, 0.2],
            "detector_offset_px": [0.3, -0.2],
            "angles_deg": {"start": 0.0, "step": 360.0 / angles, "count": angles},
        }
    )
    grid = VolumeGrid.isotropic((n, n, n), 0.02, (0.01, -0.02, 0.03))
    projections = np.random.default_rng(2).random((angles, n, n), dtype=np.float32)
    return detector_matrices(geometry, grid), projections, grid.shape_zyx


def fdk() -> dict:
    """numba-cuda back-projection: checked against the numba CPU one, then its throughput on a bigger grid."""
    import numba
    from numba import cuda

    from pipeline.reconstruct.fdk_backproject import backproject

    simulated = bool(numba.config.ENABLE_CUDASIM)
    if not simulated and not cuda.is_available():
        return {"skipped": "numba.cuda sees no CUDA device (NUMBA_ENABLE_CUDASIM=1 runs the simulator)"}
    from benchmarks.gpu_check_fdk import backproject_cuda

    n_check, n_big = SIZES[3], SIZES[4]
    matrices, projections, shape = _fdk_case(n_check, max(12, round(n_check * 1.4)))
    cpu = np.zeros(shape, np.float32)
    started = time.perf_counter()
    backproject(projections, matrices, cpu)
    cpu_seconds = time.perf_counter() - started  # includes the first compile unless cached
    gpu = backproject_cuda(projections, matrices, shape)
    worst = float(np.abs(gpu - cpu).max() / np.ptp(cpu))
    result = {
        "simulator": simulated,
        "check": {"volume": list(shape), "angles": len(projections), "max_diff_of_range": worst},
        "agrees": worst < FDK_TOLERANCE,
        "cpu_seconds_first_call": cpu_seconds,
    }
    matrices, projections, shape = _fdk_case(n_big, max(12, round(n_big * 1.4)))
    backproject_cuda(projections[:2], matrices[:2], shape)  # compile for these shapes
    started = time.perf_counter()
    backproject_cuda(projections, matrices, shape)
    seconds = time.perf_counter() - started
    updates = float(np.prod(shape)) * len(projections)
    result["throughput"] = {
        "volume": list(shape),
        "angles": len(projections),
        "seconds": seconds,
        "voxel_updates_per_s": updates / seconds,
        "note": "includes host-device copies of the projections and the volume",
    }
    return result


def section(results: dict, name: str, measure: Callable[[], dict]) -> None:
    """Run one section, keep its result or its error, and write the JSON so far."""
    started = time.perf_counter()
    try:
        results[name] = measure()
    except Exception as error:  # a failed section must not lose the others
        results[name] = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc(limit=4)}
    results[name]["wall_s"] = time.perf_counter() - started
    path = output_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"gpu_check: {name}: " + json.dumps({k: v for k, v in results[name].items() if k != "traceback"}))


def main() -> int:
    results: dict = {}
    for name, measure in (("environment", environment), ("fdk", fdk), ("training", training), ("inference", inference)):
        section(results, name, measure)
    print(f"gpu_check: wrote {output_path()}")
    failed = [name for name, value in results.items() if "error" in value]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
