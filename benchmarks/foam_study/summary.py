"""The two protocols in one report: ``<out>/foam_study/README.md``, rebuilt from the JSON results on disk.

- published protocol (one grid): ``<out>/foam_study/paper_<size>/results.json``;
- instrument protocol (scout/zoom through the product): ``<out>/foam_study.json``,
  ``<out>/foam_study/foam_study.json`` and ``<out>/foam_study/*/foam_study.json`` (partial runs, merged per ratio).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from benchmarks.foam_study.paper_report import PUBLISHED_TEXT, published_cell
from benchmarks.foam_study.report import _cell

INSTRUMENT_ORDER = [
    "subvoxel_fdk",
    "cubic",
    "richardson_lucy",
    "srcnn",
    "unet",
    "unet_small",
    "unet_medium_2800it",
    "unet_medium",
]


def _load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def instrument_runs(out: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every instrument-protocol result file under ``out``, oldest name first."""
    candidates = [
        out / "foam_study.json",
        out / "foam_study" / "foam_study.json",
        *sorted((out / "foam_study").glob("*/foam_study.json")),
    ]
    runs = []
    for path in candidates:
        data = _load(path) if path.is_file() else None
        if data is not None and data.get("protocol", "instrument") == "instrument":
            runs.append((path, data))
    return runs


def _paper_section(out: Path, root: Path) -> list[str]:
    lines = ["## 1. Published protocol (one grid, realisations A -> B)", ""]
    found = False
    for path in sorted((out / "foam_study").glob("paper_*/results.json")):
        data = _load(path)
        if not data:
            continue
        found = True
        d = data["derived"]
        lines += [
            f"Size `{data['size']}`: {d['grid_px']}^3 of {data['settings']['voxel_um']:g} um, {d['angles']} "
            f"projections, "
            f"{d['pores_b']} pores in B ({d['eligible_b']} scored), seeds A {data['seeds']['train']} / B "
            f"{data['seeds']['test']}; "
            f"{data['seconds']:.0f} s{'' if data.get('complete') else ' (partial)'}. Details: "
            f"[{path.parent.name}/report.md]"
            f"({Path(os.path.relpath(path.parent, root)).as_posix()}/report.md).",
            "",
            "| R | method | pore recovery | false pores | porosity err | sphericity err | PSNR dB | SSIM | eff. sigma "
            "um "
            "| wall s | CPU s | published |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        ratios = sorted({r for per in data["methods"].values() for r in per}, key=float)
        for ratio in ratios:
            for method, per in data["methods"].items():
                if ratio not in per:
                    continue
                f = per[ratio]
                lines.append(
                    f"| {ratio} | {method} | {_cell(f['recovered_fraction'], '.1%')} | {f['false_pores']} | "
                    f"{_cell(f['porosity_error'], '+.1%')} "
                    f"| {_cell(f['sphericity_error'], '+.1%')} | {_cell(f['psnr_db'], '.2f')} | "
                    f"{_cell(f['ssim'], '.3f')} "
                    f"| {_cell(f['effective_sigma_um'], '.2f')} | "
                    f"{_cell(data['method_seconds'][method][ratio], '.0f')} "
                    f"| {_cell(data.get('method_cpu_seconds', {}).get(method, {}).get(ratio), '.0f')} "
                    f"| {published_cell(method, float(ratio))} |"
                )
        if data.get("missing"):
            lines += [""] + [f"- not run: {name}: {why}" for name, why in data["missing"].items()]
        lines.append("")
    if not found:
        lines += ["Not run yet (`scoutzoom bench foam --protocol paper --size cpu`).", ""]
    return lines


def _instrument_section(out: Path, root: Path) -> list[str]:
    lines = [
        "## 2. Instrument protocol (scout voxel = R x zoom voxel, interior zoom, stage error, separate scans)",
        "",
        "Scored on a region of the scout outside the training zoom, against the truth; every method on the same FDK "
        "data. Where a method and ratio ran more than once, the newest run's row is shown (runs are read in name "
        "order, oldest first; `source` names the run), and a newer run that scored a ratio supersedes an older "
        "refusal of it.",
        "",
        "`product verdict` is what the product's own trust report said of that output (U-Net rows; `-`: not "
        "recorded by that run).",
        "",
        "| R | method | pore recovery | false pores | porosity err | sphericity err | PSNR dB | SSIM | eff. res. "
        "(FWHM) um | wall s | product verdict | source |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    failed: dict[str, tuple[str, str]] = {}
    rows: dict[tuple[float, int, str], str] = {}
    for path, data in instrument_runs(out):
        source = Path(os.path.relpath(path, root)).as_posix()
        for method, per in data.get("methods", {}).items():
            for ratio, f in per.items():
                seconds = data.get("method_seconds", {}).get(method, {}).get(ratio)
                rows[(float(ratio), INSTRUMENT_ORDER.index(method) if method in INSTRUMENT_ORDER else 99, method)] = (
                    f"| {ratio} | {method} | {_cell(f['recovered_fraction'], '.1%')} | {f['false_pores']} | "
                    f"{_cell(f['porosity_error'], '+.1%')} "
                    f"| {_cell(f['sphericity_error'], '+.1%')} | {_cell(f['psnr_db'], '.2f')} | "
                    f"{_cell(f['ssim'], '.3f')} "
                    f"| {_cell((f.get('effective_resolution_mm') or float('nan')) * 1000, '.1f')} | "
                    f"{_cell(seconds, '.0f')} | {_verdict(data, ratio, method)} | {source} |"
                )
        for ratio in {r for per in data.get("methods", {}).values() for r in per}:
            failed.pop(ratio, None)  # runs come oldest first: a later run that scored a ratio supersedes a refusal
        for ratio, why in data.get("failed", {}).items():
            failed[ratio] = (why, source)
    lines += [rows[k] for k in sorted(rows)]
    if failed:
        lines += ["", "Ratios where the product refused the pair (no method scored):", ""]
        lines += [
            f"- R={r}: {why} ({source})" for r, (why, source) in sorted(failed.items(), key=lambda item: float(item[0]))
        ]
    if not rows and not failed:
        lines += ["", "Not run yet (`scoutzoom bench foam --size cpu`)."]
    return lines + [""]


def _verdict(data: dict[str, Any], ratio: str, method: str) -> str:
    """The product's own verdict on a method's output at ``ratio``, when the run recorded it."""
    recorded = data.get("method_settings", {}).get(ratio, {}).get(method, {}) or {}
    return str((recorded.get("product_verdict") or {}).get("verdict") or "-")


def write_summary(out: Path) -> Path:
    """Rebuild ``<out>/foam_study/README.md`` from the results on disk; returns its path."""
    out = Path(out)
    directory = out / "foam_study"
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["# Foam study: both protocols", "", PUBLISHED_TEXT, ""]
    lines += _paper_section(out, directory) + _instrument_section(out, directory)
    path = directory / "README.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
