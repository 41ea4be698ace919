"""The published one-grid protocol (``--protocol paper``): sizes, acquisition, order of work, report; tiny end to end
(slow)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.foam_study.paper_acquire import ELIGIBLE_CLEARANCE_PX, _line_integrals, analysis_region, scan_metadata
from benchmarks.foam_study.paper_report import published_cell, target_checks
from benchmarks.foam_study.paper_run import job_order
from benchmarks.foam_study.paper_size import PAPER_SIZES, TEST_SEED, TRAIN_SEED, PaperSize
from benchmarks.foam_study.summary import write_summary
from pipeline.grid import VolumeGrid
from pipeline.reconstruct import reconstruction_mask
from pipeline.simulate import generate_phantom

MINI = PaperSize(grid_px=32, angles=12, pore_diameter_um=(4.0, 9.0), porosity=0.08, pore_size_sigma=0.3)


def test_sizes_keep_pore_sizes_and_scale_pore_count_with_volume() -> None:
    cpu, paper = PAPER_SIZES["cpu"], PAPER_SIZES["paper"]
    assert paper.grid_px == 512 and paper.n_angles == 512 and paper.pores == 1400
    assert cpu.pore_diameter_um == paper.pore_diameter_um == (6.0, 70.0)
    assert cpu.pores == pytest.approx(1400 * (cpu.grid_px / 512) ** 3, abs=1)
    assert TRAIN_SEED != TEST_SEED


@pytest.mark.parametrize("name", ["tiny", "cpu", "paper"])
def test_the_whole_phantom_is_in_the_field_of_view(name: str) -> None:
    size = PAPER_SIZES[name]
    geometry = scan_metadata(size).geometry
    assert geometry.field_of_view_radius_mm() > size.radius_mm
    assert geometry.fan_half_angle_deg() == pytest.approx(size.cone_half_angle_deg, abs=1.5)


def test_analysed_cylinder_holds_only_whole_pores_clear_of_its_boundary() -> None:
    size = PAPER_SIZES["tiny"]
    phantom = generate_phantom(size.phantom(), np.random.default_rng(0))
    grid = VolumeGrid.isotropic((size.grid_px,) * 3, size.voxel_mm)
    mask, eligible = analysis_region(size, phantom, grid, reconstruction_mask(scan_metadata(size), grid))
    assert 0 < len(eligible) <= len(phantom.pores)
    z, y, x = grid.axis_coordinates()
    radius = phantom.cylinder.radius_mm - size.analysis_margin_um / 1000
    half_height = phantom.cylinder.height_mm / 2 - size.analysis_margin_um / 1000
    clearance = ELIGIBLE_CLEARANCE_PX * size.voxel_mm
    for pore in phantom.pores:
        cx, cy, cz = pore.centre_mm
        inside = (
            np.hypot(cx, cy) + pore.radius_mm + clearance <= radius
            and abs(cz) + pore.radius_mm + clearance <= half_height
        )
        assert (pore in eligible) == inside
        if inside:  # its centre voxel is analysed
            k, j, i = (int(np.argmin(np.abs(a - c))) for a, c in ((z, cz), (y, cy), (x, cx)))
            assert mask[k, j, i]


def test_projections_are_seeded_and_blurred_by_r() -> None:
    phantom = generate_phantom(MINI.phantom(), np.random.default_rng(1))
    meta = scan_metadata(MINI)
    first = _line_integrals(MINI, phantom, meta, [1.0, 3.0], seed=5)
    again = _line_integrals(MINI, phantom, meta, [1.0, 3.0], seed=5)
    np.testing.assert_array_equal(first[3.0], again[3.0])
    sharp, blurred = first[1.0], first[3.0]
    assert sharp.shape == (MINI.n_angles, MINI.detector_px, MINI.detector_px)
    # the PSF acts on intensity (the simulator's detector model): it keeps the mean transmission
    assert abs(float(np.exp(-blurred).mean()) / float(np.exp(-sharp).mean()) - 1.0) < 0.02
    # noise is added after the blur, so compare the steepest edge of the noise-averaged profile
    steepest = [float(np.max(np.abs(np.diff(p.mean(axis=(0, 1)))))) for p in (sharp, blurred)]
    assert steepest[1] < 0.6 * steepest[0]


def test_heavy_presets_come_after_every_quick_method() -> None:
    jobs = job_order([3.0, 9.0], ["fdk", "srcnn", "unet_small", "unet_medium"])
    assert jobs[:6] == [
        (3.0, "fdk"),
        (3.0, "srcnn"),
        (3.0, "unet_small"),
        (9.0, "fdk"),
        (9.0, "srcnn"),
        (9.0, "unet_small"),
    ]
    assert jobs[6:] == [(3.0, "unet_medium"), (9.0, "unet_medium")]


def _figures(recovery: float, psnr: float, porosity: float = 0.0) -> dict:
    return {
        "recovered_fraction": recovery,
        "false_pores": 0,
        "porosity_error": porosity,
        "sphericity_error": -0.01,
        "psnr_db": psnr,
        "ssim": 0.5,
        "ms_ssim": 0.6,
        "effective_sigma_um": 2.0,
        "effective_resolution_mm": 0.005,
        "pore_recovery": {"matched": 9, "truth_count": 10},
    }


def test_target_checks_and_summary_of_both_protocols(tmp_path) -> None:
    results = {"methods": {"fdk": {"3": _figures(0.5, 10.0)}, "unet_medium": {"3": _figures(0.9, 12.0, porosity=0.08)}}}
    (check,) = target_checks(results, "unet_medium")
    assert check["recovery_short_by"] == pytest.approx(0.05)
    assert not check["porosity_ok"] and check["sphericity_ok"] and check["best_recovery"] and check["best_psnr"]
    assert published_cell("unet_small", 9) == "> 85%" and published_cell("srcnn", 9) == "~ 60%"

    paper_dir = tmp_path / "foam_study" / "paper_cpu"
    paper_dir.mkdir(parents=True)
    paper = {
        "protocol": "paper",
        "size": "cpu",
        "settings": {"voxel_um": 1.0},
        "seeds": {"train": 1, "test": 2},
        "seconds": 10.0,
        "derived": {"grid_px": 160, "angles": 160, "pores_b": 40, "eligible_b": 30},
        "complete": True,
        "methods": results["methods"],
        "method_seconds": {"fdk": {"3": 0.0}, "unet_medium": {"3": 600.0}},
    }
    (paper_dir / "results.json").write_text(json.dumps(paper))
    instrument = {
        "size": "cpu",
        "methods": {"unet": {"3": _figures(0.75, 14.4)}},
        "method_seconds": {"unet": {"3": 30.0}},
        "method_settings": {"3": {"unet": {"product_verdict": {"verdict": "flagged", "reasons": ["MS-SSIM"]}}}},
        "failed": {"7": "registration failed"},
    }
    (tmp_path / "foam_study" / "foam_study.json").write_text(json.dumps(instrument))
    text = write_summary(tmp_path).read_text()
    assert "| 3 | unet_medium | 90.0% |" in text and "> 95%" in text
    assert "| 3 | unet | 75.0% |" in text and "R=7: registration failed" in text
    assert "| flagged | foam_study.json |" in text  # the product's own verdict beside the study's scores


@pytest.mark.slow
def test_tiny_paper_protocol_end_to_end(tmp_path) -> None:
    from benchmarks.foam_study.paper_run import run_paper_study

    methods = ["fdk", "cubic", "richardson_lucy", "srcnn", "unet_small"]
    run_paper_study(
        "tiny", [3.0], tmp_path, methods[:-1], test_seed=7, cache_dir=tmp_path / "cache", log=lambda line: None
    )
    lines: list[str] = []
    run_paper_study(
        "tiny", [3.0], tmp_path, ["unet_small"], test_seed=7, cache_dir=tmp_path / "cache", log=lines.append
    )
    assert any("reusing" in line for line in lines) and any("4 rows kept" in line for line in lines)
    stored = json.loads((tmp_path / "foam_study" / "paper_tiny" / "results.json").read_text())
    assert stored["complete"] and set(stored["methods"]) == set(methods)
    for method in methods:
        figures = stored["methods"][method]["3"]
        assert figures["psnr_db"] is not None and 0 <= figures["recovered_fraction"] <= 1
        assert sum(figures["size_histogram"]) == figures["pore_count"]
    assert stored["method_seconds"]["unet_small"]["3"] > 0
    # the phantom itself, through the same pore pipeline, finds every eligible pore and nothing else
    assert stored["truth"]["eligible_truth_pores"] > 0
    assert stored["truth"]["recovered_fraction"] == 1.0 and stored["truth"]["false_pores"] == 0
    assert stored["method_settings"]["unet_small"]["3"]["iterations_run"] <= 40
    report = (tmp_path / "foam_study" / "paper_tiny" / "report.md").read_text()
    assert "| 3 | unet_small |" in report and "Published" in report
    assert (tmp_path / "foam_study" / "paper_tiny" / "recovery.png").read_bytes()[:4] == b"\x89PNG"


def _run_dir(root, rows: dict, seconds: float):
    from benchmarks.foam_study.paper_run import write_outputs

    directory = root / "foam_study" / "paper_cpu"
    histogram = [1] * 16
    methods = {
        m: {r: _figures(v, 10.0) | {"size_histogram": histogram, "pore_count": 16} for r, v in per.items()}
        for m, per in rows.items()
    }
    results = {
        "protocol": "paper",
        "size": "cpu",
        "settings": {
            "voxel_um": 1.0,
            "pore_diameter_um": [6, 70],
            "cone_half_angle_deg": 5,
            "photons": 1e4,
            "analysis_margin_um": 4,
        },
        "seeds": {"train": 1, "test": 2},
        "ratios": [3.0, 9.0],
        "methods_planned": list(rows),
        "machine": {"cpus": 2},
        "truth": {
            "size_histogram": histogram,
            "porosity": 0.1,
            "pore_count": 16,
            "mean_sphericity": 0.95,
            "recovered_fraction": 1.0,
            "eligible_truth_pores": 16,
        },
        "reference": {},
        "methods": methods,
        "method_seconds": {m: {r: 1.0 for r in per} for m, per in rows.items()},
        "method_settings": {},
        "missing": {},
        "seconds": seconds,
        "derived": {
            "grid_px": 160,
            "angles": 160,
            "radius_um": 75,
            "height_um": 150,
            "pores_a": 40,
            "pores_b": 40,
            "eligible_b": 16,
        },
        "input_seconds": {},
    }
    write_outputs(results, {}, {}, directory, plots=False)
    return directory


def test_rows_of_two_processes_merge_into_one_run(tmp_path) -> None:
    from benchmarks.foam_study.paper_run import merge_runs

    main = _run_dir(tmp_path / "main", {"fdk": {"3": 0.5, "9": 0.2}}, 100.0)
    heavy = _run_dir(tmp_path / "heavy", {"unet_medium": {"3": 0.97}}, 80.0)
    merged = merge_runs(main, heavy, cache_dir=None, plots=False)
    assert merged["methods"]["fdk"]["9"]["recovered_fraction"] == 0.2
    assert merged["methods"]["unet_medium"]["3"]["recovered_fraction"] == 0.97
    assert not merged["complete"]  # unet_medium at 9:1 is still to come
    assert "| 3 | unet_medium |" in (main / "report.md").read_text()


def test_slice_plot_with_one_method_over_several_ratios(tmp_path: Path) -> None:
    """A run of one method at several ratios plots one column of rows (it crashed once: subplots squeezed)."""
    from benchmarks.foam_study import paper_report

    image = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    images = {"5": {"unet_medium": image}, "7": {"unet_medium": image}, "9": {"unet_medium": image}}
    name = paper_report.plot_maps(images, tmp_path / "maps.png", maps=True)
    assert (tmp_path / name).stat().st_size > 0
