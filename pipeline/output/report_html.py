"""``report.html``: the page a scientist opens beside ``report.json``, self-contained (images inline).

Verdict first (trusted or flagged, and why), then the figures that back it:
before/after slices with scale bars and one grey window for every panel,
the registration figures and an overlay, the model (trained or reused, its loss
curve), quality on the zoom's test slab, pore recovery, warnings, stage times
and software versions. Without images (``images=None``, e.g. from a stored
``report.json``) the same page is written without the pictures.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from models.atomic import write_text_atomic
from pipeline.output.panels import TRIO_LABELS, draw_scale_bar, grey_window

if TYPE_CHECKING:
    from pipeline.pair.report import ProcessReport

REPORT_HTML = "report.html"
VALUE_UNIT = "mm⁻¹"  # linear attenuation coefficient, as in the volumes


@dataclass(frozen=True)
class SliceSet:
    """The same slice of several volumes on the zoom grid, shown side by side."""

    title: str
    images: tuple[np.ndarray, ...]
    labels: tuple[str, ...]


@dataclass(frozen=True)
class ReportImages:
    """Pictures for the report: slices (zoom-grid voxels of ``voxel_mm``) and a registration overlay."""

    voxel_mm: float
    slices: tuple[SliceSet, ...]
    overlay: tuple[np.ndarray, np.ndarray] | None = None  # (registered scout, zoom), one slice


def report_images(
    cubic: np.ndarray,
    recovered: np.ndarray,
    zoom: np.ndarray,
    registered_scout: np.ndarray | None,
    test_slab_z: tuple[int, int],
    voxel_mm: float,
) -> ReportImages:
    """Test-slab and mid-box axial slices and a mid-box xz slice of cubic / recovered / zoom, plus the overlay."""
    labels = TRIO_LABELS
    z_test = (test_slab_z[0] + test_slab_z[1]) // 2
    z_mid, y_mid = zoom.shape[0] // 2, zoom.shape[1] // 2
    slices = (
        SliceSet(
            f"test slab (never trained on), axial z={z_test}", (cubic[z_test], recovered[z_test], zoom[z_test]), labels
        ),
        SliceSet(f"zoom region, axial z={z_mid}", (cubic[z_mid], recovered[z_mid], zoom[z_mid]), labels),
        SliceSet(f"zoom region, orthogonal y={y_mid}", (cubic[:, y_mid], recovered[:, y_mid], zoom[:, y_mid]), labels),
    )
    overlay = (registered_scout[z_mid], zoom[z_mid]) if registered_scout is not None else None
    return ReportImages(voxel_mm=voxel_mm, slices=slices, overlay=overlay)


# -- pictures ------------------------------------------------------------------------------
def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    _pyplot().close(fig)
    return buffer.getvalue()


def slice_png(slices: SliceSet, window: tuple[float, float], voxel_mm: float) -> bytes:
    plt = _pyplot()
    height, width = slices.images[0].shape[:2]
    size = (3.6 * len(slices.images), 3.6 * height / max(width, 1) + 0.45)
    fig, axes = plt.subplots(1, len(slices.images), figsize=size, squeeze=False)
    for axis, image, label in zip(axes[0], slices.images, slices.labels, strict=True):
        axis.imshow(image, cmap="gray", vmin=window[0], vmax=window[1], interpolation="nearest")
        draw_scale_bar(axis, image.shape, voxel_mm)
        axis.set_title(label, fontsize=9)
        axis.set_axis_off()
    fig.tight_layout()
    return _png(fig)


def overlay_png(scout: np.ndarray, zoom: np.ndarray, voxel_mm: float) -> bytes:
    """Registered scout in magenta, zoom in green: grey where they agree, colour where they do not."""

    def unit(image: np.ndarray) -> np.ndarray:
        lo, hi = grey_window([image])
        return np.clip((np.nan_to_num(image, nan=lo) - lo) / (hi - lo), 0.0, 1.0)

    s, z = unit(scout), unit(zoom)
    plt = _pyplot()
    fig, axis = plt.subplots(figsize=(4.2, 4.2 * zoom.shape[0] / max(zoom.shape[1], 1) + 0.45))
    axis.imshow(np.stack([s, z, s], axis=-1), interpolation="nearest")
    draw_scale_bar(axis, zoom.shape, voxel_mm)
    axis.set_title("registered scout (magenta) over zoom (green)", fontsize=9)
    axis.set_axis_off()
    fig.tight_layout()
    return _png(fig)


def loss_png(iterations: Sequence[int], train: Sequence[float], validation: Sequence[float | None]) -> bytes:
    plt = _pyplot()
    fig, axis = plt.subplots(figsize=(5.5, 3.4))
    axis.plot(iterations, train, label="training")
    points = [(i, v) for i, v in zip(iterations, validation, strict=True) if v is not None]
    if points:
        axis.plot([p[0] for p in points], [p[1] for p in points], "o-", label="validation slab")
    if all(value > 0 for value in train):
        axis.set_yscale("log")
    axis.set_xlabel("iteration")
    axis.set_ylabel("loss")
    axis.legend()
    axis.grid(True, alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


# -- page ------------------------------------------------------------------------------------
STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1180px;padding:16px 22px;color:#1d2329}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #dde1e6}
.verdict{border-radius:6px;padding:12px 16px;margin:12px 0}.trusted{background:#dcf3e1;border:1px solid #9fd3ad}
.flagged{background:#fff0c7;border:1px solid #e6c66b}.verdict b{font-size:19px}
table{border-collapse:collapse;margin:4px 0}td,th{padding:3px 10px 3px 0;text-align:left;vertical-align:top}
th{color:#5b6670;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#6b7580}img{max-width:100%;border:1px solid #dde1e6;margin:4px 0}
.figs{display:flex;gap:16px;flex-wrap:wrap;align-items:flex-start}code{font-size:13px}
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _times(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def _resolution(um: float | None) -> str:
    return "not measurable" if um is None else f"{um:.0f} µm"


def _f(value: float | None, fmt: str = ".3f", unit: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return format(value, fmt) + (f" {unit}" if unit else "")


def _table(rows: Sequence[Sequence[object]], head: Sequence[str] | None = None) -> str:
    header = "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>" if head else ""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table>{header}{body}</table>"


def _verdict(report: ProcessReport) -> str:
    s = report.summary
    assert s is not None
    reasons = "".join(f"<li>{_e(r)}</li>" for r in s.reasons)
    why = f"<ul>{reasons}</ul>" if reasons else "<p>Every trust figure is within its threshold.</p>"
    recall = f", {100 * s.feature_recall:.0f} % of the zoom's pores found" if s.feature_recall is not None else ""
    return (
        f'<div class="verdict {s.verdict}" id="verdict"><b>{s.verdict.upper()}</b> &mdash; '
        f"PSNR gain {s.psnr_gain_db:+.2f} dB over cubic upsampling on the test slab; effective resolution "
        f"{_resolution(s.resolution_before_um)} &rarr; {_resolution(s.resolution_after_um)}{_e(recall)}.{why}</div>"
    )


def _slices(images: ReportImages | None) -> str:
    if images is None or not images.slices:
        return ""
    window = grey_window([s.images[-1] for s in images.slices])
    parts = [f"<h3>{_e(s.title)}</h3>{_img(slice_png(s, window, images.voxel_mm), s.title)}" for s in images.slices]
    note = (
        f'<p class="muted">One grey window for every panel: {window[0]:.3g} to {window[1]:.3g} {VALUE_UNIT} '
        f"(0.5-99.5 percentiles of the zoom). Zoom voxel {1000 * images.voxel_mm:.3g} µm.</p>"
    )
    return "<h2>Before and after</h2>" + note + "".join(parts)


def _vector(value: object) -> str:
    """``(x, y, z)`` with 4 significant digits for sequences, the escaped value otherwise."""
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(f"{x:.4g}" for x in value) + ")"
    return _e(value)


def _registration(report: ProcessReport, images: ReportImages | None) -> str:
    r = report.registration.model_dump()
    keys = [
        ("zoom_centre_in_scout_mm", "zoom centre in the scout (mm)"),
        ("prior_centre_mm", "from the stage positions (mm)"),
        ("stage_error_mm", "stage error (mm)"),
        ("rotation_deg", "rotation (deg)"),
        ("scale", "scale"),
        ("ncc_before", "NCC at the stage prior"),
        ("ncc_after", "NCC after registration"),
        ("transform_from", "transform used"),
        ("refined_by", "scout on the zoom grid by"),
    ]
    rows = [
        (_e(label), _vector(r[key]) if not isinstance(r[key], float) else f"{r[key]:.4f}")
        for key, label in keys
        if key in r
    ]
    overlay = ""
    if images is not None and images.overlay is not None:
        overlay = _img(overlay_png(images.overlay[0], images.overlay[1], images.voxel_mm), "registration overlay")
    return f'<h2>Registration</h2><div class="figs"><div>{_table(rows)}</div><div>{overlay}</div></div>'


def _model(report: ProcessReport) -> str:
    m = report.model
    how = "reused from the model cache" if m.reused else "trained on this pair"
    rows = [
        ("model", f"<code>{_e(m.id)}</code> ({how})"),
        ("decision", _e(m.decision or "-")),
        ("runtime", _e(m.runtime_detail or m.runtime)),
        ("parameters", _e(m.parameters or "-")),
    ]
    if m.cache is not None:
        rows.append(("model cache", _e(f"{m.cache.result}: {m.cache.reason}")))
    if m.validation is not None:
        rows.append(("validation", _e(f"PSNR {m.validation.psnr_db:.2f} dB, SSIM {m.validation.ssim:.3f}")))
    curve = ""
    if m.training_curve:
        points = m.training_curve
        png = loss_png([p.iteration for p in points], [p.train_loss for p in points], [p.val_loss for p in points])
        curve = _img(png, "loss curve")
    return f'<h2>Model</h2><div class="figs"><div>{_table(rows)}</div><div>{curve}</div></div>'


def _quality(report: ProcessReport) -> str:
    q, t = report.quality, report.trust
    rows = [
        ("PSNR (dB)", _f(q.psnr_recovered_db, ".2f"), _f(q.psnr_cubic_db, ".2f"), _f(q.psnr_scout_on_grid_db, ".2f")),
        ("SSIM", _f(q.ssim_recovered), _f(q.ssim_cubic), _f(q.ssim_scout_on_grid)),
        ("MS-SSIM", _f(t.heldout_ms_ssim), _f(t.heldout_ms_ssim_cubic), "-"),
        (
            "effective resolution (µm)",
            _f(_times(t.effective_resolution_mm.after, 1000), ".1f"),
            _f(_times(t.effective_resolution_mm.before, 1000), ".1f"),
            "-",
        ),
    ]
    html = (
        f"<h2>Quality on the test slab</h2><p class='muted'>Zoom slices z = {q.test_slab_z[0]} to {q.test_slab_z[1]} "
        f"(never trained on, not used to choose the model), {t.heldout_voxels} voxels.</p>"
        + _table(rows, ("", "recovered", "cubic", "scout on the zoom grid"))
    )
    h = t.hallucination
    html += _table(
        [("scout consistency inside / outside the zoom", _e(f"{h.inside_ratio:.3g} / {_f(h.outside_ratio, '.3g')}"))]
    )
    if t.features is not None:
        f = t.features
        named = [("recovered", f.recovered), *f.baselines.items()]
        rows = [(_e(name), v.found, v.matched, _f(v.recall, ".2f"), v.false_features) for name, v in named]
        html += f"<h3>Pores ({f.zoom_features} in the zoom)</h3>" + _table(
            rows, ("volume", "found", "matching a zoom pore", "recall", "false")
        )
    return html


def _list(title: str, items: Sequence[str], empty: str) -> str:
    body = "".join(f"<li>{_e(item)}</li>" for item in items)
    return f"<h2>{_e(title)}</h2>" + (f"<ul>{body}</ul>" if body else f"<p class='muted'>{_e(empty)}</p>")


def _stages(report: ProcessReport) -> str:
    rows = [
        (_e(name), f'<span class="n">{t.seconds:.1f}</span>', _f(t.peak_memory_mb, ".0f"))
        for name, t in report.stages.items()
    ]
    total = sum(t.seconds for t in report.stages.values())
    rows.append(("<b>total</b>", f"<b>{total:.1f}</b>", ""))
    return "<h2>Stage times</h2>" + _table(rows, ("stage", "seconds", "peak memory (MB)"))


def render(report: ProcessReport, images: ReportImages | None = None) -> str:
    """The whole page as one string (no external resource)."""
    o = report.output
    output = _table(
        [
            ("volume", _e(", ".join(o.model_dump().get("files", [o.file])))),
            ("shape (z, y, x)", _e(o.shape_zyx)),
            ("voxel", f"{1000 * o.voxel_mm:.3g} µm"),
            ("clipped by the voxel budget", _e(o.clipped_by_budget)),
        ]
    )
    software = _table([(_e(k), _e(v)) for k, v in report.software.items()])
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(report.sample_id)}: scoutzoom report</title>"
        f"<style>{STYLE}</style></head><body><h1>{_e(report.sample_id)}</h1>"
        f'<p class="muted">{_e(report.pair)} &middot; {_e(report.created_utc.strftime("%Y-%m-%d %H:%M UTC"))} '
        f"&middot; preset {_e(report.preset)}</p>"
        + _verdict(report)
        + _slices(images)
        + _registration(report, images)
        + _model(report)
        + _quality(report)
        + _list("Warnings", report.warnings, "No warnings.")
        + _stages(report)
        + "<h2>Output</h2>"
        + output
        + "<h2>Software</h2>"
        + software
        + "</body></html>"
    )


def write_report_html(out_dir: Path, report: ProcessReport, images: ReportImages | None = None) -> Path:
    """``report.html`` in ``out_dir``, atomically."""
    path = Path(out_dir) / REPORT_HTML
    write_text_atomic(path, render(report, images))
    return path
