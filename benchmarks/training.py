"""Training speed on this machine: steps/s of the small and standard U-Net, time to convergence of the small one.

Writes benchmarks/results/training.json. CPU unless a GPU is visible (then both are measured there).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "models"))  # the synthetic pair helper

import numpy as np  # noqa: E402

from models.config import NetworkConfig, TrainingConfig  # noqa: E402


def steps_per_s(network: NetworkConfig, tile_px: int, steps: int) -> dict:
    import keras

    from models.train import masked_mse
    from models.unet import build_unet25d

    model = build_unet25d(network)
    model.compile(optimizer=keras.optimizers.Adam(2e-4), loss=[masked_mse, masked_mse], loss_weights=[0.5, 1.0])
    rng = np.random.default_rng(0)
    x = rng.random((4, tile_px, tile_px, network.slices), dtype=np.float32)
    ym = np.concatenate([x[..., 2:3], np.ones_like(x[..., :1])], axis=-1)
    model.train_on_batch(x, [ym, ym])  # build / trace
    started = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, [ym, ym])
    seconds = time.perf_counter() - started
    return {
        "network": network.model_dump(),
        "tile_px": tile_px,
        "batch": 4,
        "steps": steps,
        "seconds_per_step": seconds / steps,
        "steps_per_s": steps / seconds,
        "parameters": int(model.count_params()),
    }


def convergence(iterations: int) -> dict:
    from synthetic import make_pair

    from models.train import train_model

    pair = make_pair((36, 96, 96), ratio=3, seed=0)
    results = {}
    for residual in (True, False):
        network = NetworkConfig(depth=2, base_filters=8, head_layers=2, residual=residual)
        config = TrainingConfig(iterations=iterations, tile_px=48, validation_interval=50, patience=100)
        trained = train_model(pair.scout_on_zoom, pair.zoom, pair.mask, network, config)
        vals = [p.val_loss for p in trained.curve]
        best = min(vals)
        within = next(p.iteration for p in trained.curve if p.val_loss <= best * 1.05)
        results["residual" if residual else "plain"] = {
            "seconds": trained.seconds,
            "iterations": trained.iterations_run,
            "iterations_to_within_5pct_of_best_val": within,
            "validation": trained.validation.model_dump(),
            "curve": [p.model_dump() for p in trained.curve],
        }
    return results


def main() -> None:
    from models.device import accelerator_present

    iterations = int(os.environ.get("BENCH_ITERATIONS", "1000"))
    result = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "gpu": accelerator_present()},
        "small": steps_per_s(NetworkConfig(depth=2, base_filters=8, head_layers=2), 48, 50),
        "standard": steps_per_s(NetworkConfig(), 128, int(os.environ.get("BENCH_STANDARD_STEPS", "5"))),
        "convergence_small_3to1": convergence(iterations),
    }
    out = ROOT / "benchmarks" / "results" / "training.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "convergence_small_3to1"}, indent=2))


if __name__ == "__main__":
    main()
