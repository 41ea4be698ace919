"""Capacity x iterations sweep of the U-Net on CPU: which net learns most in ~15 minutes on 2 cores.

Three commands (``python -m benchmarks.capacity_sweep CMD``):

- ``prepare``: simulate foam pairs (128^3 zoom) and run them once through the product (reconstruct,
  register, calibrate; training cut to one iteration), then cache under ``scratch/capacity_sweep/``
  the registered training pair and an evaluation cube outside the zoom (scout FDK on the zoom grid
  and the voxelised truth). Reuses ``benchmarks.foam_study`` for the pair and the pore scoring.
- ``speed``: iterations/s of each config alone (short runs), to extrapolate a 15-minute budget.
- ``sweep``: train each config on the cached pair; at every checkpoint, recover the evaluation cube
  and score it against the truth (PSNR, pore recall, false pores). Writes
  ``benchmarks/results/capacity_sweep.json`` after every point and the plot ``capacity_sweep.png``.

Seeds: ``DEV_SEEDS`` choose the method; ``REPORT_SEEDS`` are only scored for the final report.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

from benchmarks.foam_study.data import StudySize  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = ROOT / "scratch" / "capacity_sweep"
RESULTS = ROOT / "benchmarks" / "results"
DEV_SEEDS = (11,)
REPORT_SEEDS = (23,)
# 128^3 zoom (the training pair), a 96^3 evaluation cube at the mirror point; pores as in the foam study's cpu size
SIZE = StudySize(zoom_detector_px=128, eval_px=96, pores=2000, pore_px=(8.0, 30.0), unet_iterations=1)

# name -> (network, training) overrides; the baseline loss is the paper's two-term masked MSE
CONFIGS: dict[str, dict[str, dict[str, Any]]] = {
    "small": {"network": {"depth": 2, "base_filters": 8, "head_layers": 2}, "training": {"tile_px": 48}},
    "d3f8t64": {"network": {"depth": 3, "base_filters": 8, "head_layers": 2}, "training": {"tile_px": 64}},
    "d3f16t64": {"network": {"depth": 3, "base_filters": 16, "head_layers": 2}, "training": {"tile_px": 64}},
    "d3f16t96": {"network": {"depth": 3, "base_filters": 16, "head_layers": 2}, "training": {"tile_px": 96}},
    "d3f24t64": {"network": {"depth": 3, "base_filters": 24, "head_layers": 2}, "training": {"tile_px": 64}},
    "d4f16t64": {"network": {"depth": 4, "base_filters": 16, "head_layers": 2}, "training": {"tile_px": 64}},
    # loss and sampling variants of the 486 k net
    "d3f16t64_l1": {
        "network": {"depth": 3, "base_filters": 16, "head_layers": 2},
        "training": {"tile_px": 64, "l1_weight": 1.0},
    },
    "d3f16t64_grad": {
        "network": {"depth": 3, "base_filters": 16, "head_layers": 2},
        "training": {"tile_px": 64, "gradient_weight": 1.0},
    },
    "d3f16t64_edge": {
        "network": {"depth": 3, "base_filters": 16, "head_layers": 2},
        "training": {"tile_px": 64, "edge_tile_fraction": 0.5},
    },
    "d3f16t64_grad_edge": {
        "network": {"depth": 3, "base_filters": 16, "head_layers": 2},
        "training": {"tile_px": 64, "gradient_weight": 1.0, "edge_tile_fraction": 0.5},
    },
}


@dataclass
class Prepared:
    """One cached pair: the training arrays, the evaluation cube and the ``ProcessedPair`` for scoring."""

    name: str
    train_scout: np.ndarray
    train_zoom: np.ndarray
    train_mask: np.ndarray
    eval_source: np.ndarray  # scout FDK on the evaluation grid (the U-Net's input there)
    pair: Any  # benchmarks.foam_study.pair.ProcessedPair
    baselines: dict[str, dict]


def pair_name(ratio: float, seed: int) -> str:
    return f"r{ratio:g}_s{seed}"


def prepare(ratio: float, seed: int, log=print) -> Path:
    """Simulate, run through the product once, and cache the arrays (skipped if cached)."""
    from benchmarks.foam_study.methods import cubic, subvoxel_fdk, training_pair
    from benchmarks.foam_study.pair import run_pair
    from benchmarks.foam_study.score import score, truth_figures

    root = SCRATCH / pair_name(ratio, seed)
    if (root / "arrays.npz").exists():
        return root
    t0 = time.perf_counter()
    pair = run_pair(SIZE, ratio, seed, root, log=log)
    train = training_pair(pair)
    source = subvoxel_fdk(pair)
    truth, truth_fig = truth_figures(pair)
    baselines = {"truth": truth_fig}
    for name, volume in (("subvoxel_fdk", source), ("cubic", cubic(pair))):
        baselines[name] = _short(score(volume, pair, truth)[1])
    np.savez(
        root / "arrays.npz",
        train_scout=train.scout,
        train_zoom=train.zoom,
        train_mask=train.mask,
        eval_source=source,
        truth=pair.truth,
    )
    info = {
        "ratio": ratio,
        "seed": seed,
        "size": SIZE.model_dump(mode="json"),
        "seconds": time.perf_counter() - t0,
        "pipeline_seconds": pair.seconds,
        "baselines": baselines,
        "train_shape": list(train.scout.shape),
        "eval_shape": list(source.shape),
    }
    (root / "info.json").write_text(json.dumps(info, indent=1, default=float))
    log(
        f"{pair_name(ratio, seed)}: prepared in {info['seconds']:.0f} s; "
        f"baselines {json.dumps(baselines, default=float)}"
    )
    return root


def _short(figures: dict) -> dict:
    keys = ("psnr_db", "ssim", "recovered_fraction", "false_pores", "porosity_error", "pore_count", "mean_sphericity")
    return {k: figures[k] for k in keys}


def load_prepared(ratio: float, seed: int) -> Prepared:
    """The cached arrays and a ``ProcessedPair`` rebuilt from the cache (no reconstruction)."""
    from benchmarks.foam_study.pair import ProcessedPair, process_config
    from pipeline.output.volumes import read_ome_grid
    from pipeline.simulate import load_truth

    root = SCRATCH / pair_name(ratio, seed)
    arrays = np.load(root / "arrays.npz")
    info = json.loads((root / "info.json").read_text())
    _, phantom = load_truth(root / "sim" / "truth")
    grid = read_ome_grid(root / "out" / "recovered.ome.tif")
    pair = ProcessedPair(
        ratio=ratio,
        root=root,
        config=process_config(SIZE),
        phantom=phantom,
        grid=grid,
        truth=arrays["truth"],
        seconds=info["pipeline_seconds"],
    )
    return Prepared(
        pair_name(ratio, seed),
        arrays["train_scout"],
        arrays["train_zoom"],
        arrays["train_mask"].astype(bool),
        arrays["eval_source"],
        pair,
        info["baselines"],
    )


def configs(name: str, iterations: int, seed: int) -> tuple[Any, Any]:
    """The ``NetworkConfig`` and ``TrainingConfig`` of a sweep point (no early stopping: every checkpoint counts)."""
    from models.config import NetworkConfig, TrainingConfig

    spec = CONFIGS[name]
    training = {
        "iterations": iterations,
        "batch_size": 4,
        "validation_interval": 250,
        "patience": 10**6,
        "seed": seed,
        **spec["training"],
    }
    return NetworkConfig(**spec["network"]), TrainingConfig(**training)


QUIET_SMALL_S_PER_STEP = 0.0757  # benchmarks/results/training.json: the small net (48 px, batch 4), 2 quiet cores


def _seconds_per_step(network: Any, training: Any, steps: int) -> tuple[float, float, int]:
    """Wall and CPU (all threads) seconds of one ``train_on_batch`` (synthetic batch, after a warm-up), parameters."""
    import keras

    from models.train import build_training_model

    model = build_training_model(network, training)
    t = training.tile_px
    x = np.random.default_rng(0).random((training.batch_size, t, t, network.slices), dtype=np.float32)
    ym = np.concatenate([x[..., 2:3], np.ones_like(x[..., :1])], axis=-1)
    for _ in range(3):
        model.train_on_batch(x, [ym, ym])
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        model.train_on_batch(x, [ym, ym])
    wall, cpu = (time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps
    params = int(model.count_params())
    del model
    keras.backend.clear_session()
    return wall, cpu, params


def speed(names: list[str], steps: int, log=print) -> dict[str, dict]:
    """Seconds per iteration of each config on 2 quiet cores, estimated from CPU time on a shared machine.

    Wall time on a machine shared by others says little; the CPU seconds a step costs do not depend on
    the share we get. The small net's CPU seconds per step, set against its wall time measured on 2 quiet
    cores (``QUIET_SMALL_S_PER_STEP``), give the scale: quiet seconds = CPU seconds x that ratio. (The
    same 2-thread efficiency is assumed for every config; bigger convolutions parallelise better, so
    the estimate is cautious for the bigger nets.)
    """
    _, small_cpu, _ = _seconds_per_step(*configs("small", steps, 0), steps)
    scale = QUIET_SMALL_S_PER_STEP / small_cpu
    out: dict[str, dict] = {}
    for name in names:
        wall, cpu, params = _seconds_per_step(*configs(name, steps, 0), steps)
        quiet = cpu * scale
        out[name] = {
            "parameters": params,
            "tile_px": CONFIGS[name]["training"]["tile_px"],
            "steps": steps,
            "seconds_per_iteration_wall_shared": wall,
            "cpu_seconds_per_iteration": cpu,
            "quiet_per_cpu_second": scale,
            "seconds_per_iteration_quiet": quiet,
            "iterations_in_15_min_quiet": int(900 / quiet),
            "load_average": os.getloadavg()[0],
        }
        log(f"speed {name}: {out[name]}", flush=True)
    return out


def checkpoint_figures(recovered: np.ndarray, prepared: Prepared, truth_analysis: Any) -> dict:
    """The foam study's image and pore figures (same pore pipeline as ``score``), without its slow
    MS-SSIM and effective-resolution fits, so that each checkpoint costs seconds."""
    from pipeline.evaluate import metrics
    from pipeline.evaluate.pore_match import match_pores
    from pipeline.evaluate.pores import analyse_pores

    pair = prepared.pair
    analysis = analyse_pores(recovered, None, pair.grid.voxel_mm, grid=pair.grid)
    recovery = match_pores(analysis, pair.phantom.pores, pair.grid)
    return {
        "psnr_db": metrics.psnr_db(recovered, pair.truth),
        "ssim": metrics.ssim(recovered, pair.truth),
        "recovered_fraction": recovery.recovered_fraction,
        "false_pores": recovery.false_pores,
        "porosity_error": analysis.porosity / truth_analysis.porosity - 1.0,
        "pore_count": analysis.count,
        "mean_sphericity": analysis.mean_sphericity,
    }


def evaluate(model: Any, network: Any, norm: Any, prepared: Prepared, truth_analysis: Any) -> dict:
    """Recover the evaluation cube with ``model`` and score it against the truth."""
    from models.train import predict_slices

    source = norm.apply(prepared.eval_source)
    predicted = norm.invert(
        predict_slices(model, source, network.slices, (0, source.shape[0]), network.pad_multiple_px)
    )
    return checkpoint_figures(predicted, prepared, truth_analysis)


def sweep_point(
    name: str, prepared: Prepared, iterations: int, checkpoints: list[int], seed: int, save: Any, log=print
) -> dict:
    """Train one config; score the evaluation cube at each checkpoint and keep its weights for the report seeds.

    ``save(point)`` runs after every checkpoint (partial results survive a killed run); train seconds
    exclude the scoring.
    """
    from benchmarks.foam_study.score import truth_figures
    from models.train import train_model

    network, training = configs(name, iterations, seed)
    truth_analysis, _ = truth_figures(prepared.pair)
    weights_dir = SCRATCH / "weights" / prepared.name / f"{name}_t{seed}"
    weights_dir.mkdir(parents=True, exist_ok=True)
    point: dict[str, Any] = {
        "config": name,
        "network": network.model_dump(),
        "training": training.model_dump(mode="json"),
        "checkpoints": [],
        "weights": str(weights_dir.relative_to(ROOT)),
    }
    scoring, started, cpu_started = [0.0, 0.0], time.perf_counter(), time.process_time()

    def on_check(iteration: int, model: Any, norm: Any) -> None:
        if iteration not in checkpoints:
            return
        t0, c0 = time.perf_counter(), time.process_time()
        figures = evaluate(model, network, norm, prepared, truth_analysis)
        model.save_weights(weights_dir / f"it{iteration}.weights.h5")
        (weights_dir / "normalisation.json").write_text(norm.model_dump_json())
        scoring[0] += time.perf_counter() - t0
        scoring[1] += time.process_time() - c0
        train_s = time.perf_counter() - started - scoring[0]
        train_cpu = time.process_time() - cpu_started - scoring[1]
        point["checkpoints"].append(
            {"iteration": iteration, "train_seconds": train_s, "train_cpu_seconds": train_cpu, **figures}
        )
        point.update(
            parameters=int(model.count_params()),
            train_seconds=train_s,
            seconds_per_iteration=train_s / iteration,
            load_average=os.getloadavg()[0],
        )
        save(point)
        log(
            f"  {name} it {iteration} ({train_s:.0f} s): PSNR {figures['psnr_db']:.2f} dB, "
            f"recall {figures['recovered_fraction']:.3f}, false {figures['false_pores']}",
            flush=True,
        )

    trained = train_model(
        prepared.train_scout, prepared.train_zoom, prepared.train_mask, network, training, on_check=on_check
    )
    point["validation"] = trained.validation.model_dump(mode="json")
    save(point)
    return point


def report_points(results: dict, report: Prepared, out: Path, log=print) -> None:
    """Score every saved checkpoint (trained on a dev pair) on a report pair's evaluation cube (another phantom)."""
    import keras

    from benchmarks.foam_study.score import truth_figures
    from models.config import NetworkConfig
    from models.trained import Normalisation
    from models.unet import build_unet25d

    truth_analysis, _ = truth_figures(report.pair)
    for key, point in sorted(results["points"].items()):
        if key.split("/")[0] == report.name:
            continue  # trained on this pair: its own checkpoints already score it
        done = {c["iteration"] for c in results.get("report", {}).get(f"{report.name}<-{key}", [])}
        if point["checkpoints"][-1]["iteration"] in done:
            continue  # already scored (reports run again as checkpoints arrive)
        weights_dir = ROOT / point["weights"]
        network = NetworkConfig(**point["network"])
        norm = Normalisation.model_validate_json((weights_dir / "normalisation.json").read_text())
        scored = list(results.get("report", {}).get(f"{report.name}<-{key}", []))
        for check in point["checkpoints"]:
            if check["iteration"] in done or check is not point["checkpoints"][-1]:
                continue  # the last checkpoint of each point (and any scored before)
            model = build_unet25d(network)
            model.load_weights(weights_dir / f"it{check['iteration']}.weights.h5")
            scored.append({"iteration": check["iteration"], **evaluate(model, network, norm, report, truth_analysis)})
            keras.backend.clear_session()
        _write("report", f"{report.name}<-{key}", scored, out)
        log(f"report {report.name} <- {key}: done", flush=True)


def _write(section: str, key: str, value: Any, path: Path) -> dict:
    """Merge one entry into the results file (re-read first: several sweeps may share it) and return it all."""
    results = load_results(path)
    results.setdefault(section, {})[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(results, indent=1, default=float) + "\n")
    tmp.replace(path)
    return results


def load_results(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {"speed": {}, "pairs": {}, "points": {}}


def _quiet_s_per_it(results: dict, config: str) -> float | None:
    """Estimated quiet seconds per iteration; edge-picked tiles cost no step time (numpy, outside the step)."""
    speeds = results.get("speed", {})
    entry = speeds.get(config) or speeds.get(config.replace("_edge", ""))
    return entry["seconds_per_iteration_quiet"] if entry else None


def plot(results: dict, path: Path) -> None:
    """Held-out PSNR and pore recall against iterations, and recall against estimated quiet 2-core seconds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    dev = [k for k, info in results["pairs"].items() if info.get("role") == "dev"]
    for key, point in sorted(results["points"].items()):
        if key.split("/")[0] not in dev:
            continue
        its = np.array([c["iteration"] for c in point["checkpoints"]])
        label = f"{key} ({point['parameters'] / 1e3:.0f} k)"
        recall = [c["recovered_fraction"] for c in point["checkpoints"]]
        axes[0].plot(its, [c["psnr_db"] for c in point["checkpoints"]], "o-", label=label)
        axes[1].plot(its, recall, "o-", label=label)
        quiet = _quiet_s_per_it(results, point["config"])
        if quiet:
            axes[2].plot(its * quiet / 60, recall, "o-", label=label)
    for info in results["pairs"].values():
        if info.get("role") == "dev":
            for ax, k in zip(axes, ("psnr_db", "recovered_fraction", "recovered_fraction"), strict=True):
                ax.axhline(info["baselines"]["subvoxel_fdk"][k], ls="--", c="gray", lw=0.8)
    axes[0].set(
        xlabel="iterations (batch 4)", ylabel="PSNR vs truth, eval cube (dB)", title="dev pair; dashed: scout FDK"
    )
    axes[1].set(xlabel="iterations (batch 4)", ylabel="pore recall vs truth", title="dev pair; dashed: scout FDK")
    axes[2].set(
        xlabel="estimated training minutes, 2 quiet cores", ylabel="pore recall vs truth", title="same, against time"
    )
    axes[2].axvline(15, c="k", lw=0.6)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(results: dict) -> str:
    """The sweep as a Markdown table (one row per checkpoint; report rows: dev-trained nets on the report pair)."""
    head = "| pair | config | train seed | parameters | iterations | train s (shared) | est. s (2 quiet cores) | "
    rows = [head + "PSNR dB | SSIM | pore recall | false pores | porosity err |", "|" + " --- |" * 12]

    def figures(c: dict) -> str:
        return (
            f"{c['psnr_db']:.2f} | {c['ssim']:.3f} | {c['recovered_fraction']:.3f} | {c['false_pores']} | "
            f"{c['porosity_error']:+.3f} |"
        )

    for info_key, info in sorted(results["pairs"].items()):
        rows.append(
            f"| {info_key} ({info.get('role')}) | scout FDK | - | - | - | - | - | "
            + figures(info["baselines"]["subvoxel_fdk"])
        )
    for key, point in sorted(results["points"].items()):
        quiet = _quiet_s_per_it(results, point["config"])
        pair, _, seed, _ = key.split("/")
        for c in point["checkpoints"]:
            est = f"{c['iteration'] * quiet:.0f}" if quiet else "-"
            rows.append(
                f"| {pair} | {point['config']} | {seed} | {point['parameters']} | {c['iteration']} | "
                f"{c['train_seconds']:.0f} | {est} | " + figures(c)
            )
    for key, scored in sorted(results.get("report", {}).items()):
        report, trained = key.split("<-")
        if trained.split("/")[0] == report:
            continue  # trained on the report pair itself: already in its own rows
        _, config, seed, _ = trained.split("/")
        for c in scored:
            rows.append(
                f"| {report} <- {trained.split('/')[0]} | {config} | {seed} | - | {c['iteration']} | - | - | "
                + figures(c)
            )
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "command", choices=("prepare", "speed", "sweep", "report", "plot"), help="plot also writes the table"
    )
    parser.add_argument("--ratio", type=float, default=3.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(DEV_SEEDS))
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS))
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--checkpoints", type=int, nargs="+", default=[250, 500, 1000, 1500, 2000, 3000])
    parser.add_argument("--speed-steps", type=int, default=15)
    parser.add_argument("--train-seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "capacity_sweep.json")
    args = parser.parse_args(argv)
    results = load_results(args.out)
    if args.command == "prepare":
        for seed in args.seeds:
            prepare(args.ratio, seed)
    elif args.command == "speed":
        for name, figures in speed(args.configs, args.speed_steps).items():
            results = _write("speed", name, figures, args.out)
    elif args.command == "sweep":
        for seed in args.seeds:
            prepared = load_prepared(args.ratio, seed)
            role = "dev" if seed in DEV_SEEDS else "report"
            results = _write("pairs", prepared.name, {"baselines": prepared.baselines, "role": role}, args.out)
            for name in args.configs:
                key = f"{prepared.name}/{name}/t{args.train_seed}/{args.iterations}"
                print(f"{key}: training {args.iterations} iterations", flush=True)
                sweep_point(
                    name,
                    prepared,
                    args.iterations,
                    args.checkpoints,
                    args.train_seed,
                    save=lambda point, key=key: _write("points", key, point, args.out),
                )
                plot(load_results(args.out), args.out.with_suffix(".png"))
    elif args.command == "report":
        for seed in args.seeds:
            prepared = load_prepared(args.ratio, seed)
            _write("pairs", prepared.name, {"baselines": prepared.baselines, "role": "report"}, args.out)
            report_points(results, prepared, args.out)
        results = load_results(args.out)
    plot(results, args.out.with_suffix(".png"))
    if args.command == "plot":
        args.out.with_suffix(".md").write_text(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
