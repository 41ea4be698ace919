"""How long, and with which learning-rate schedule, the ``medium`` preset should train (issue 13).

The published one-grid foam protocol at the ``cpu`` size (``benchmarks/foam_study/paper_*``): the U-Net trains on
realisation A's R:1 pair and is scored against the phantom of the *development* realisation (``DEV_TEST_SEED``),
never the one kept for reported figures, at several points of one long run per variant (the weights as they are
at that iteration). Variants: the paper's constant Adam rate, and a cosine decay to a tenth over the planned
iterations. Each score is the protocol's own (pore recovery, false pores, porosity and sphericity errors, PSNR).

    python -m benchmarks.medium_training [--ratio 5] [--iterations 6000] [--checks 1500 2750 4000 5000 6000]

Writes ``benchmarks/results/medium_training.json`` and ``medium_training.png``; rewritten after every score, so a
cut run leaves what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
KEYS = ("recovered_fraction", "false_pores", "porosity_error", "sphericity_error", "psnr_db", "ssim")


class _Weights:
    """The training model at a check, as the protocol's in-memory runtime expects (``predict`` -> final output)."""

    def __init__(self, model: Any, network: Any) -> None:
        self.model = model
        self.network = network

    def predict(self, stacks: np.ndarray) -> np.ndarray:
        outputs = self.model.predict_on_batch(np.asarray(stacks, np.float32))
        final = outputs[-1] if isinstance(outputs, (list, tuple)) else outputs
        return np.asarray(final)[..., 0]


def _variants(iterations: int) -> dict[str, dict[str, Any]]:
    """Training overrides of each variant (early stopping off: every check is scored as it stands)."""
    common = {"iterations": iterations, "patience": 10_000, "min_iterations": iterations}
    return {
        "constant": common | {"learning_rate_schedule": "constant"},
        "cosine": common | {"learning_rate_schedule": "cosine", "final_learning_rate_fraction": 0.1},
    }


def _plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name, run in results["variants"].items():
        points = sorted(run["checks"].items(), key=lambda kv: int(kv[0]))
        its = [int(k) for k, _ in points]
        axes[0].plot(its, [100 * v["recovered_fraction"] for _, v in points], "o-", label=name)
        axes[1].plot(its, [v["psnr_db"] for _, v in points], "o-", label=name)
    for ax, label in zip(axes, ("pore recovery (%)", "PSNR (dB)")):
        ax.set_xlabel("iteration")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(
        f"medium preset, paper protocol cpu size, {results['ratio']:g}:1, "
        f"dev realisation (seed {results['seeds']['dev']})"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(ratio: float, iterations: int, checks: Sequence[int], variants: Sequence[str], out: Path) -> dict[str, Any]:
    from benchmarks.foam_study.paper_acquire import acquire_cached
    from benchmarks.foam_study.paper_methods import _InMemoryRuntime, preset_config
    from benchmarks.foam_study.paper_run import DEFAULT_CACHE, _Scorer
    from benchmarks.foam_study.paper_size import DEV_TEST_SEED, PAPER_SIZES, TRAIN_SEED
    from models.train import train_model
    from pipeline.infer.stream import infer_volume

    size = PAPER_SIZES["cpu"]
    resolutions = [size.voxel_um, float(ratio)]
    a = acquire_cached(size, TRAIN_SEED, resolutions, DEFAULT_CACHE)
    b = acquire_cached(size, DEV_TEST_SEED, resolutions, DEFAULT_CACHE, coarse_cubic=True)
    scorer = _Scorer(b, size, ratio)
    input_figures, _, _ = scorer(b.fdk[ratio])
    results: dict[str, Any] = {
        "ratio": ratio,
        "size": "cpu",
        "seeds": {"train": TRAIN_SEED, "dev": DEV_TEST_SEED},
        "eligible_pores": scorer.truth_figures()["eligible_truth_pores"],
        "input_fdk": {k: input_figures[k] for k in KEYS},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "variants": {},
    }
    out.mkdir(parents=True, exist_ok=True)
    for name in variants:
        overrides = _variants(iterations)[name]
        config = preset_config("medium", None)
        training = config.training.model_copy(update=overrides)
        run_record: dict[str, Any] = {"training": training.model_dump(mode="json"), "checks": {}}
        results["variants"][name] = run_record
        started, cpu0 = time.perf_counter(), time.process_time()
        scoring = [0.0]

        def on_check(
            iteration: int,
            model: Any,
            norm: Any,
            record=run_record,
            cfg=config,
            name=name,
            started=started,
            scoring=scoring,
        ) -> None:
            if iteration not in checks:
                return
            t0 = time.perf_counter()
            volume = np.zeros(b.grid.shape_zyx, np.float32)
            runtime = _InMemoryRuntime(_Weights(model, cfg.network))
            infer_volume(runtime, b.fdk[ratio], volume, norm, cfg.inference, slices=cfg.network.slices)
            figures, _, _ = scorer(volume)
            scoring[0] += time.perf_counter() - t0
            record["checks"][str(iteration)] = {k: figures[k] for k in KEYS} | {
                "train_s": time.perf_counter() - started - scoring[0],
                "load_average": os.getloadavg()[0],
            }
            print(f"{name} {iteration}: recovery {figures['recovered_fraction']:.3f} PSNR {figures['psnr_db']:.2f}")
            (out / "medium_training.json").write_text(json.dumps(results, indent=1, default=float))

        train_model(a.fdk[ratio], a.fdk[size.voxel_um], a.fov_mask, config.network, training, on_check=on_check)
        run_record["seconds"] = time.perf_counter() - started
        run_record["cpu_seconds"] = time.process_time() - cpu0
        run_record["scoring_seconds"] = scoring[0]
        (out / "medium_training.json").write_text(json.dumps(results, indent=1, default=float))
        _plot(results, out / "medium_training.png")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratio", type=float, default=5.0)
    parser.add_argument("--iterations", type=int, default=6000)
    parser.add_argument("--checks", type=int, nargs="+", default=[1500, 2750, 4000, 5000, 6000])
    parser.add_argument("--variants", nargs="+", default=["constant", "cosine"], choices=["constant", "cosine"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    run(args.ratio, args.iterations, args.checks, args.variants, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
