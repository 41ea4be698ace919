"""Report of the one-grid protocol: the table beside the published figures, target checks and plots."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.foam_study.report import _cell, _figure, _save
from benchmarks.foam_study.score import SIZE_EDGES_UM

# The published DeepNet figures (foam phantom, 512^3 of 1 um, ~1,400 pores), per ratio where they are per ratio.
PUBLISHED_RECOVERY = {"unet": {3: 0.95, 5: 0.95, 7: 0.95, 9: 0.85}, "srcnn": {9: 0.60}}
PUBLISHED_POROSITY_WITHIN = 0.06
PUBLISHED_SPHERICITY_WITHIN = 0.05
PUBLISHED_TEXT = (
    "Published (DeepNet, foam phantom 512^3 of 1 um, ~1,400 pores, trained on realisation A, tested on B): "
    "pore recovery > 95 % at 3:1, 5:1 and 7:1 and > 85 % at 9:1; porosity within 6 % and mean sphericity within 5 % "
    "of the truth; SRCNN about 60 % pore recovery at 9:1; Richardson-Lucy the poorest."
)


def published_cell(method: str, ratio: float) -> str:
    """What the paper reports for this method and ratio (pore recovery), or a dash."""
    family = "unet" if method.startswith("unet") else method
    value = PUBLISHED_RECOVERY.get(family, {}).get(int(ratio))
    if value is None:
        return "poorest" if family == "richardson_lucy" else "-"
    return f"{'>' if family == 'unet' else '~'} {value:.0%}"


def _network_cell(settings: dict[str, Any] | None) -> str:
    if not settings:
        return "-"
    if "preset" in settings:
        return (
            f"{settings['preset']} ({settings['parameters'] / 1000:.0f} k par., {settings['iterations_run']}/"
            f"{settings['iterations_planned']} it., tile {settings['tile_px']})"
        )
    if "filters" in settings:
        return f"SRCNN {settings['iterations']} it., tile {settings['tile_px']}"
    if "iterations" in settings:
        return f"{settings['iterations']} it., sigma {settings['psf_sigma_px']:g} px"
    if "coarse_voxel_um" in settings:
        return f"FDK on {settings['coarse_voxel_um']:g} um voxels"
    return "-"


def target_checks(results: dict[str, Any], method: str) -> list[dict[str, Any]]:
    """For ``method`` at each ratio: the published targets, met or missed by how much."""
    checks = []
    for ratio, f in sorted(results["methods"].get(method, {}).items(), key=lambda item: float(item[0])):
        r = float(ratio)
        target = PUBLISHED_RECOVERY["unet"].get(int(r))
        others = {m: v[ratio] for m, v in results["methods"].items() if ratio in v and m != method}
        checks.append(
            {
                "ratio": ratio,
                "recovery": f["recovered_fraction"],
                "recovery_target": target,
                "recovery_short_by": None if target is None else max(0.0, target - f["recovered_fraction"]),
                "porosity_error": f["porosity_error"],
                "porosity_ok": abs(f["porosity_error"]) <= PUBLISHED_POROSITY_WITHIN,
                "sphericity_error": f["sphericity_error"],
                "sphericity_ok": math.isfinite(f["sphericity_error"] or math.nan)
                and abs(f["sphericity_error"]) <= PUBLISHED_SPHERICITY_WITHIN,
                "best_recovery": all(f["recovered_fraction"] >= o["recovered_fraction"] for o in others.values()),
                "best_psnr": all(f["psnr_db"] >= o["psnr_db"] for o in others.values()),
            }
        )
    return checks


def _row(
    ratio: str, method: str, f: dict[str, Any], settings: dict | None, seconds: float | None, cpu_s: float | None = None
) -> str:
    rec = f["pore_recovery"]
    return (
        f"| {ratio} | {method} | {_network_cell(settings)} | {_cell(f['recovered_fraction'], '.1%')} "
        f"({rec['matched']}/{rec['truth_count']}) "
        f"| {f['false_pores']} | {_cell(f['porosity_error'], '+.1%')} | {_cell(f['sphericity_error'], '+.1%')} "
        f"| {_cell(f['psnr_db'], '.2f')} | {_cell(f['ssim'], '.3f')} | {_cell(f['ms_ssim'], '.3f')} "
        f"| {_cell(f['effective_sigma_um'], '.2f')} | {_cell(seconds, '.0f')} | {_cell(cpu_s, '.0f')} | "
        f"{published_cell(method, float(ratio)) if ratio != 'ref' else '-'} |"
    )


def _load_range(results: dict[str, Any]) -> str:
    loads = [v for per in results.get("load_average", {}).values() for v in per.values()]
    return f"{min(loads):.0f}-{max(loads):.0f}" if loads else "n/a"


def markdown(results: dict[str, Any], images: dict[str, str]) -> str:
    d = results["derived"]
    lines = [
        f"# Foam study, published protocol (one grid), size `{results['size']}`",
        "",
        f"Grid {d['grid_px']}^3 of {results['settings']['voxel_um']:g} um; phantom cylinder radius "
        f"{d['radius_um']:.0f} um, "
        f"height {d['height_um']:.0f} um, {d['pores_a']} / {d['pores_b']} pores (A / B; the paper's ~1,400 per 512^3 "
        f"um^3 scaled), "
        f"diameters {results['settings']['pore_diameter_um'][0]:g}-{results['settings']['pore_diameter_um'][1]:g} um; "
        f"{d['angles']} cone-beam projections over 360 deg (half fan {results['settings']['cone_half_angle_deg']:g} "
        f"deg), "
        f"Gaussian blur sigma R um in the object, Poisson noise of {results['settings']['photons']:g} counts per flat "
        f"pixel; "
        f"FDK (RTK) on the same grid. Trained on realisation A (seed {results['seeds']['train']}), "
        f"measured on B (seed {results['seeds']['test']}) against the phantom inside the phantom cylinder shrunk by "
        f"{results['settings']['analysis_margin_um']:g} um ({d['eligible_b']} truth pores wholly inside it). "
        f"Wall time so far {results['seconds']:.0f} s on {results['machine']['cpus']} CPU cores"
        f"{' (complete)' if results.get('complete') else ' (partial: rows are written as they finish)'}.",
        "",
        "Wall s: training plus inference for learned methods, the deconvolution for RL, the coarse FDK plus "
        "upsampling for cubic; the input FDK of each ratio is listed under the inputs. Eff. sigma: the Gaussian sigma "
        "(um) that best maps the phantom onto the volume (the paper's resolution R; FWHM = 2.355 sigma). "
        f"CPU s: the process's CPU time for the row (the machine was shared: load average {_load_range(results)} "
        "on 2 cores while rows ran, so wall times are several times the CPU times).",
        "",
        "| R | method | network / settings | pore recovery | false pores | porosity err | sphericity err | PSNR dB | "
        "SSIM "
        "| MS-SSIM | eff. sigma um | wall s | CPU s | published |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    if results.get("reference"):
        lines.append(_row("ref", "fdk 1 um (target quality)", results["reference"], None, None))
    ratios = sorted({r for per in results["methods"].values() for r in per}, key=float)
    for ratio in ratios:
        for method, per in results["methods"].items():
            if ratio in per:
                lines.append(
                    _row(
                        ratio,
                        method,
                        per[ratio],
                        results["method_settings"].get(method, {}).get(ratio),
                        results["method_seconds"].get(method, {}).get(ratio),
                        results.get("method_cpu_seconds", {}).get(method, {}).get(ratio),
                    )
                )
    t = results.get("truth", {})
    if t:
        lines += [
            "",
            f"Truth of B by the same pore pipeline: porosity {t['porosity']:.3f}, {t['pore_count']} pores, mean "
            f"sphericity "
            f"{_cell(t['mean_sphericity'], '.3f')}, self-recovery {_cell(t['recovered_fraction'], '.1%')} of "
            f"{t['eligible_truth_pores']} eligible pores.",
        ]
    inputs = results.get("input_seconds", {})
    if inputs:
        lines += ["", "Inputs (s): " + ", ".join(f"{k} {v:.0f}" for k, v in inputs.items())]
    for method in [m for m in results["methods"] if m.startswith("unet")]:
        checks = target_checks(results, method)
        if checks:
            lines += ["", f"Targets, `{method}`:", ""]
            for c in checks:
                short = c["recovery_short_by"]
                lines.append(
                    f"- {c['ratio']}:1: recovery {c['recovery']:.1%} (target {_cell(c['recovery_target'], '.0%')}"
                    f"{'' if not short else f', short by {short * 100:.1f} points'}); porosity "
                    f"{c['porosity_error']:+.1%} "
                    f"({'within' if c['porosity_ok'] else 'outside'} 6 %); sphericity "
                    f"{_cell(c['sphericity_error'], '+.1%')} "
                    f"({'within' if c['sphericity_ok'] else 'outside'} 5 %); best of all methods on recovery: "
                    f"{'yes' if c['best_recovery'] else 'no'}, on PSNR: {'yes' if c['best_psnr'] else 'no'}"
                )
    if results.get("missing"):
        lines += ["", "Not run:", ""] + [f"- {name}: {why}" for name, why in results["missing"].items()]
    lines += ["", PUBLISHED_TEXT, ""] + [f"![{title}]({name})" for title, name in images.items()]
    return "\n".join(lines) + "\n"


def plot_key(
    results: dict[str, Any],
    key: str,
    ylabel: str,
    path: Path,
    *,
    scale: float = 1.0,
    targets: dict[int, float] | None = None,
    reference: float | None = None,
) -> str:
    figure = _figure(5.5, 4.0)
    ax = figure.subplots()
    for method, per in results["methods"].items():
        ratios = sorted(per, key=float)
        values = [per[r][key] for r in ratios]
        ax.plot(
            [float(r) for r in ratios], [np.nan if v is None else v * scale for v in values], marker="o", label=method
        )
    if targets:
        ax.plot(list(targets), [v * scale for v in targets.values()], "k--", marker="x", label="published U-Net")
    if reference is not None and math.isfinite(reference):
        ax.axhline(reference * scale, color="grey", linestyle=":", label="reference")
    ax.set_xlabel("resolution ratio R:1")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    return _save(figure, path)


def plot_sizes(results: dict[str, Any], path: Path) -> str:
    """Pore size distributions (counts per 5 um bin) of the truth and every method, one panel per ratio."""
    ratios = sorted({r for per in results["methods"].values() for r in per}, key=float)
    figure = _figure(4.0 * max(1, len(ratios)), 3.4)
    axes = np.atleast_1d(figure.subplots(1, max(1, len(ratios))))
    centres = (SIZE_EDGES_UM[:-1] + SIZE_EDGES_UM[1:]) / 2
    for ax, ratio in zip(axes, ratios, strict=False):
        ax.step(centres, results["truth"]["size_histogram"], where="mid", color="k", linewidth=2, label="truth")
        for method, per in results["methods"].items():
            if ratio in per:
                ax.step(centres, per[ratio]["size_histogram"], where="mid", label=method)
        ax.set_title(f"R={ratio}", fontsize=9)
        ax.set_xlabel("equivalent diameter (um)")
    axes[0].set_ylabel("pores")
    axes[-1].legend(fontsize=6)
    return _save(figure, path)


def plot_maps(images: dict[str, dict[str, np.ndarray]], path: Path, *, maps: bool) -> str:
    """Middle z slices (or MS-SSIM maps) per ratio (rows) and method (columns)."""
    ratios = [r for r in images if images[r]]
    names = list(dict.fromkeys(n for r in ratios for n in images[r]))
    if not names:
        return path.name
    low, high = np.percentile(images[ratios[0]][names[0]], [0.5, 99.5])
    figure = _figure(2.0 * len(names), 2.1 * len(ratios))
    axes = figure.subplots(len(ratios), len(names), squeeze=False)  # rows of ratios even for one method
    for row, ratio in zip(axes, ratios, strict=False):
        for ax, name in zip(row, names, strict=True):
            if name in images[ratio]:
                if maps:
                    ax.imshow(images[ratio][name], cmap="magma", vmin=0, vmax=1)
                else:
                    ax.imshow(images[ratio][name], cmap="gray", vmin=low, vmax=high)
            ax.set_title(f"{name}, R={ratio}", fontsize=7)
            ax.set_axis_off()
    return _save(figure, path)
