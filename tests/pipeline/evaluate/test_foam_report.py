"""The foam-study report writer (benchmarks/foam_study) on made-up figures: JSON, Markdown, plots."""

from __future__ import annotations

import json

import numpy as np

from benchmarks.foam_study.run import write_outputs


def _figures(recovery: float) -> dict:
    return {
        "recovered_fraction": recovery,
        "false_pores": 1,
        "porosity": 0.2,
        "porosity_error": 0.01,
        "sphericity_error": -0.02,
        "psnr_db": 20.0,
        "ssim": 0.8,
        "ms_ssim": float("nan"),
        "effective_resolution_mm": 0.01,
        "pore_count": 10,
        "mean_sphericity": 0.9,
    }


def test_outputs_hold_every_figure_and_plots(tmp_path) -> None:
    rng = np.random.default_rng(0)
    results = {
        "size": "tiny",
        "region_px": 8,
        "zoom_voxel_mm": 0.01,
        "seconds": 1.0,
        "missing": {"srcnn": "not in the repository yet"},
        "truth": {
            r: {
                "porosity": 0.2,
                "pore_count": 10,
                "mean_sphericity": 0.95,
                "recovered_fraction": 1.0,
                "eligible_truth_pores": 10,
            }
            for r in ("3", "9")
        },
        "methods": {
            "cubic": {"3": _figures(0.5), "9": _figures(0.1)},
            "unet": {"3": _figures(0.97), "9": _figures(0.8)},
        },
    }
    samples = {r: {n: rng.uniform(0.02, 0.1, 10) for n in ("truth", "cubic", "unet")} for r in ("3", "9")}
    slices = {r: {n: rng.random((8, 8)) for n in ("truth", "cubic", "unet")} for r in ("3", "9")}
    written = write_outputs(results, samples, samples, slices, tmp_path)
    stored = json.loads((tmp_path / "foam_study.json").read_text())
    assert stored == written
    assert stored["methods"]["unet"]["9"]["recovered_fraction"] == 0.8
    assert stored["methods"]["unet"]["9"]["ms_ssim"] is None  # NaN becomes null, the JSON stays valid
    text = (tmp_path / "foam_study" / "report.md").read_text()
    assert "| 9 | unet | 80.0% |" in text
    assert "srcnn: not in the repository yet" in text
    for name in ("recovery.png", "porosity.png", "sizes.png", "sphericity.png", "slices.png"):
        assert (tmp_path / "foam_study" / name).read_bytes()[:4] == b"\x89PNG"
        assert f"]({name})" in text
