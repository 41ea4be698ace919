"""report.json's summary (pipeline.pair.report) and the self-contained report.html (pipeline.output.report_html)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from daemon.cli import main
from pipeline.output import report_html
from pipeline.pair.report import ProcessReport

REASON = "PSNR gain over cubic on held-out zoom data is 0.20 dB (minimum 0.50 dB) <script>"


def report_dict(flagged: bool = False) -> dict:
    figures = {"found": 40, "matched": 38, "recall": 0.95, "false_features": 1, "false_fraction": 0.025}
    cubic = {"found": 30, "matched": 25, "recall": 0.625, "false_features": 3, "false_fraction": 0.1}
    return {
        "pair": "/scans/sample-7",
        "sample_id": "sample-7",
        "fingerprint": "f" * 16,
        "preset": "small",
        "config": {},
        "stages": {"reconstruct_zoom": {"seconds": 12.5, "peak_memory_mb": 900.0}, "train": {"seconds": 30.0}},
        "output": {
            "shape_zyx": [40, 64, 64],
            "voxel_mm": 0.01,
            "spacing_mm": [0.01] * 3,
            "origin_mm": [0, 0, 0],
            "centre_mm": [0, 0, 0],
            "direction": [1, 0, 0, 0, 1, 0, 0, 0, 1],
            "clipped_by_budget": False,
            "zoom_offset_xyz": [10, 10, 5],
        },
        "registration": {
            "zoom_centre_in_scout_mm": [0.1, 0.2, 0.3],
            "prior_centre_mm": [0.11, 0.2, 0.3],
            "ncc_before": 0.41,
            "ncc_after": 0.93,
            "rotation_deg": [0.1, 0.0, 0.2],
        },
        "model": {
            "id": "20261201T000000Z-abcdef12",
            "reused": False,
            "runtime": "onnxruntime",
            "training_curve": [
                {"iteration": i, "train_loss": 1.0 / (i + 1), "val_loss": None if i % 2 else 0.9 / (i + 1)}
                for i in range(0, 50, 5)
            ],
        },
        "quality": {
            "test_slab_z": [30, 38],
            "validation_slab_z": [24, 30],
            "psnr_recovered_db": 25.1,
            "ssim_recovered": 0.8,
            "psnr_cubic_db": 22.8 if not flagged else 24.9,
            "ssim_cubic": 0.7,
            "psnr_scout_on_grid_db": 21.0,
            "ssim_scout_on_grid": 0.6,
        },
        "trust": {
            "heldout_psnr_db": 25.1,
            "heldout_psnr_cubic_db": 22.8,
            "psnr_gain_db": 0.2 if flagged else 2.3,
            "heldout_ssim": 0.8,
            "heldout_ssim_cubic": 0.7,
            "heldout_ms_ssim": 0.9,
            "heldout_ms_ssim_cubic": 0.85,
            "effective_resolution_mm": {"before": 0.047, "after": 0.018},
            "hallucination": {"scout_psf_fwhm_mm": 0.03, "inside_ratio": 1.1, "outside_ratio": 1.2},
            "heldout_voxels": 20000,
            "features": {"zoom_features": 40, "recovered": figures, "baselines": {"cubic": cubic}},
            "flagged": flagged,
            "reasons": [REASON] if flagged else [],
        },
        "warnings": ["zoom calibration used 3 of 4 slabs"],
        "software": {"scoutzoom": "0.1.0", "numpy": "2.0"},
    }


def test_summary_is_filled_from_the_report_and_kept_in_json() -> None:
    report = ProcessReport.model_validate(report_dict())
    s = report.summary
    assert s is not None
    assert (s.verdict, s.reasons, s.psnr_gain_db, s.model_reused, s.warnings) == ("trusted", [], 2.3, False, 1)
    assert (s.resolution_before_um, s.resolution_after_um) == pytest.approx((47.0, 18.0))
    assert (s.feature_recall, s.feature_recall_cubic, s.total_seconds) == (0.95, 0.625, 42.5)
    body = json.loads(report.model_dump_json())
    assert list(body)[:2] == ["report_version", "summary"] and body["summary"]["verdict"] == "trusted"
    assert ProcessReport.model_validate(body).summary == s  # read back as written


def test_summary_is_in_the_schema_with_descriptions() -> None:
    schema = ProcessReport.model_json_schema()
    fields = schema["$defs"]["ReportSummary"]["properties"]
    assert "µm" in fields["resolution_before_um"]["description"] and "dB" in fields["psnr_gain_db"]["description"]


SECTIONS = ("StageTiming", "OutputInfo", "ModelInfo", "QualityFigures", "TrustReport", "InferenceStats")


def test_report_schema_is_2020_12_with_an_id_and_describes_every_field(capsys: pytest.CaptureFixture[str]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    assert main(["schema", "report"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].startswith("urn:scoutzoom:schema:report:")
    jsonschema.Draft202012Validator.check_schema(schema)
    written = json.loads(ProcessReport.model_validate(report_dict(flagged=True)).model_dump_json())
    jsonschema.Draft202012Validator(schema).validate(written)  # a report as written passes its own schema
    undescribed = [name for name, field in schema["properties"].items() if not field.get("description")]
    for section in SECTIONS:
        fields = schema["$defs"][section]["properties"]
        undescribed += [f"{section}.{name}" for name, field in fields.items() if not field.get("description")]
    assert not undescribed
    output = schema["$defs"]["OutputInfo"]["properties"]
    assert "(mm" in output["voxel_mm"]["description"] and "(voxels)" in output["shape_zyx"]["description"]


@pytest.fixture(scope="module")
def images() -> report_html.ReportImages:
    rng = np.random.default_rng(3)
    zoom = rng.normal(1.0, 0.2, (40, 48, 64)).astype(np.float32)
    blurred = (zoom + np.roll(zoom, 1, axis=2)) / 2
    return report_html.report_images(blurred, zoom * 0.98, zoom, blurred, (30, 38), voxel_mm=0.01)


def test_page_is_self_contained_and_says_the_verdict_first(images: report_html.ReportImages, tmp_path: Path) -> None:
    report = ProcessReport.model_validate(report_dict(flagged=True))
    path = report_html.write_report_html(tmp_path, report, images)
    html = path.read_text()
    assert path.name == "report.html"
    sources = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)  # nothing fetched from anywhere
    assert html.index('id="verdict"') < html.index("<h2>Before and after") < html.index("<h2>Registration")
    assert "FLAGGED" in html and "&lt;script&gt;" in html and "<script>" not in html
    assert html.count("<img") == 3 + 1 + 1  # three slice rows, the overlay, the loss curve
    assert html.count("One grey window for every panel") == 1
    for text in (
        "47 µm &rarr; 18 µm",
        "0.93",
        "Stage times",
        "42.5",
        "numpy",
        "zoom calibration used 3 of 4 slabs",
        "trained on this pair",
        "Pores (40 in the zoom)",
    ):
        assert text in html, text


def test_page_without_images_still_tells_the_story() -> None:
    html = report_html.render(ProcessReport.model_validate(report_dict()))
    assert "TRUSTED" in html and "<img" in html  # the loss curve is drawn from the report itself
    assert "Before and after" not in html


def test_grey_window_is_shared_and_ignores_non_finite_values() -> None:
    image = np.linspace(0, 1, 1000).reshape(10, 100)
    image[0, 0] = np.nan
    lo, hi = report_html.grey_window([image, image + 1])
    assert 0 <= lo < 0.02 and 1.98 < hi <= 2
    assert report_html.grey_window([np.full((4, 4), np.nan)]) == (0.0, 1.0)


def test_a_resolution_that_could_not_be_measured_says_so_and_is_null_in_json() -> None:
    data = report_dict(flagged=True)
    data["trust"]["effective_resolution_mm"] = {"before": 0.094, "after": None, "before_r2": 0.6, "after_r2": 0.02}
    report = ProcessReport.model_validate(data)
    assert report.summary is not None and report.summary.resolution_after_um is None
    assert json.loads(report.model_dump_json())["summary"]["resolution_after_um"] is None
    page = report_html.render(report)
    assert "94 µm &rarr; not measurable" in page and "&rarr; 0 µm" not in page
