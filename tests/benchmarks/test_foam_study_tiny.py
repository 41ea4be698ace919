"""The tiny foam study end to end (simulator -> product -> baselines -> report) at one ratio."""

from __future__ import annotations

import json

import pytest

from benchmarks.foam_study.methods import METHODS
from benchmarks.foam_study.run import run_study

FIGURES = (
    "recovered_fraction",
    "false_pores",
    "porosity_error",
    "sphericity_error",
    "psnr_db",
    "ssim",
    "ms_ssim",
    "effective_resolution_mm",
)


@pytest.mark.slow
def test_tiny_study_writes_every_figure(tmp_path) -> None:
    run_study("tiny", [3.0], tmp_path, seed=0, work_dir=tmp_path, log=lambda line: None)
    stored = json.loads((tmp_path / "foam_study.json").read_text())
    assert set(stored["methods"]) == set(METHODS)
    for method in METHODS:
        figures = stored["methods"][method]["3"]
        for key in FIGURES:
            assert key in figures, (method, key)
        assert figures["psnr_db"] is not None and figures["ssim"] is not None
        assert stored["method_seconds"][method]["3"] > 0
    assert stored["truth"]["3"]["eligible_truth_pores"] > 0
    for method in ("unet", "unet_small", "unet_medium"):  # the product's own verdict on each of its outputs
        assert stored["method_settings"]["3"][method]["product_verdict"]["verdict"] in ("trusted", "flagged")
    assert stored["voxels"]["3"]["scout_voxel_mm"] == pytest.approx(3 * stored["zoom_voxel_mm"])
    assert (tmp_path / "foam_study" / "recovery.png").read_bytes()[:4] == b"\x89PNG"
