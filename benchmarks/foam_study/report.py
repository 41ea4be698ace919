"""The study's Markdown report and PNG plots (matplotlib, Agg, no pyplot state)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

PUBLISHED = {
    "unet_recovery_3_to_7": 0.95,
    "unet_recovery_9": 0.85,
    "porosity_within": 0.06,
    "sphericity_within": 0.05,
    "srcnn_recovery_9": 0.60,
}


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: Path) -> str:
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    return path.name


def plot_vs_ratio(
    results: dict[str, Any],
    key: str,
    ylabel: str,
    path: Path,
    truth_key: str | None = None,
    targets: dict[float, float] | None = None,
) -> str:
    """One line per method of ``key`` against the ratio (truth and published targets dashed)."""
    figure = _figure(5.5, 4.0)
    ax = figure.subplots()
    for method, per_ratio in results["methods"].items():
        ratios = sorted(float(r) for r in per_ratio)
        ax.plot(ratios, [per_ratio[f"{r:g}"][key] for r in ratios], marker="o", label=method)
    if truth_key:
        ratios = sorted(float(r) for r in results["truth"])
        ax.plot(ratios, [results["truth"][f"{r:g}"][truth_key] for r in ratios], "k--", label="truth")
    for ratio, value in (targets or {}).items():
        ax.plot([ratio], [value], "kv", markersize=8)
    ax.set_xlabel("resolution ratio R (scout voxel / zoom voxel)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(figure, path)


def plot_per_ratio(samples: dict[str, dict[str, np.ndarray]], kind: str, xlabel: str, path: Path) -> str:
    """Per ratio one panel: size histograms (``kind='hist'``) or sphericity box plots (``'box'``), methods and truth."""
    ratios = sorted(samples, key=float)
    figure = _figure(3.6 * len(ratios), 3.4)
    axes = np.atleast_1d(figure.subplots(1, len(ratios)))
    for ax, ratio in zip(axes, ratios):
        per_method = samples[ratio]
        if kind == "hist":
            everything = np.concatenate([v for v in per_method.values() if v.size] or [np.zeros(1)])
            edges = np.linspace(0.0, float(everything.max()) * 1.05 + 1e-9, 16)
            for name, values in per_method.items():
                ax.hist(values, bins=edges, histtype="step", label=name, linewidth=1.5 if name == "truth" else 1.0)
            ax.set_ylabel("pores")
        else:
            names = list(per_method)
            ax.boxplot([per_method[n] if per_method[n].size else [math.nan] for n in names], showfliers=False)
            ax.set_xticks(range(1, len(names) + 1), names, rotation=30, fontsize=8)
        ax.set_title(f"R = {ratio}")
        ax.set_xlabel(xlabel)
    axes[0].legend(fontsize=7) if kind == "hist" else None
    return _save(figure, path)


def plot_slices(slices: dict[str, dict[str, np.ndarray]], path: Path) -> str:
    """Rows: ratios; columns: truth, then each method (the same z slice of the evaluation region)."""
    ratios = sorted(slices, key=float)
    names = list(slices[ratios[0]])
    figure = _figure(2.4 * len(names), 2.5 * len(ratios))
    axes = np.atleast_2d(figure.subplots(len(ratios), len(names)))
    for row, ratio in zip(axes, ratios):
        low, high = np.percentile(slices[ratio]["truth"], [0.5, 99.5])
        for ax, name in zip(row, names):
            ax.imshow(slices[ratio][name], cmap="gray", vmin=low, vmax=high)
            ax.set_title(f"{name}, R={ratio}", fontsize=8)
            ax.set_axis_off()
    return _save(figure, path)


def _cell(value: Any, fmt: str) -> str:
    return "n/a" if value is None or (isinstance(value, float) and not math.isfinite(value)) else format(value, fmt)


def markdown(results: dict[str, Any], images: dict[str, str]) -> str:
    """The report text: setup, metric table, plots, published figures to compare with."""
    lines = [
        "# Foam study",
        "",
        f"Size `{results['size']}` ({results['region_px']}^3 zoom voxels of {results['zoom_voxel_mm'] * 1000:g} um per "
        f"region), "
        f"ratios {', '.join(results['truth'])}; evaluated on a region of the scout outside the training zoom, against "
        f"the truth. "
        f"Run time {results['seconds']:.0f} s.",
        "",
        "| R | method | pore recovery | false pores | porosity err | sphericity err | PSNR dB | SSIM | MS-SSIM | eff. "
        "res. um |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for method, per_ratio in results["methods"].items():
        for ratio, f in sorted(per_ratio.items(), key=lambda item: float(item[0])):
            lines.append(
                f"| {ratio} | {method} | {_cell(f['recovered_fraction'], '.1%')} | {f['false_pores']} | "
                f"{_cell(f['porosity_error'], '+.1%')} "
                f"| {_cell(f['sphericity_error'], '+.1%')} | {_cell(f['psnr_db'], '.2f')} | {_cell(f['ssim'], '.3f')} "
                f"| {_cell(f['ms_ssim'], '.3f')} | {_cell(f['effective_resolution_mm'] * 1000, '.1f')} |"
            )
    lines += ["", "Truth (analysed by the same pore pipeline):", ""]
    for ratio, t in results["truth"].items():
        lines.append(
            f"- R={ratio}: porosity {t['porosity']:.3f}, {t['pore_count']} pores, mean sphericity "
            f"{_cell(t['mean_sphericity'], '.3f')}, "
            f"{t['eligible_truth_pores']} truth pores eligible, self-recovery {_cell(t['recovered_fraction'], '.1%')}"
        )
    if results.get("failed"):
        lines += ["", "Ratios where the product failed (no method scored):", ""] + [
            f"- R={r}: {why}" for r, why in results["failed"].items()
        ]
    if results.get("missing"):
        lines += ["", "Methods not run:", ""] + [f"- {name}: {why}" for name, why in results["missing"].items()]
    lines += [
        "",
        "Published (foam phantom, 512^3, ~1,400 pores): U-Net pore recovery > 95 % at 3:1-7:1 and > 85 % at 9:1, "
        "porosity within 6 %, mean sphericity within 5 %; SRCNN about 60 % at 9:1.",
        "",
    ]
    lines += [f"![{title}]({name})" for title, name in images.items()]
    return "\n".join(lines) + "\n"
