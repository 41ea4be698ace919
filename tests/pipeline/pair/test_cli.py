"""The two user commands through the console entry point: ``process`` (with a config file) and ``demo``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def scoutzoom(*args: str, cwd: Path, timeout_s: float = 900) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), SCOUTZOOM_STATE_DIR=str(cwd / "state"))
    return subprocess.run(
        [sys.executable, "-m", "daemon.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s
    )


def test_process_with_config_file_then_rerun_skips(simulated: Path, tmp_path: Path) -> None:
    config = tmp_path / "scoutzoom.toml"
    config.write_text(
        '[pipeline]\npreset = "small"\n[pipeline.training]\niterations = 100\n'
        "[pipeline.output.region]\nvoxel_budget = 500000\n"
    )
    out = tmp_path / "out"
    first = scoutzoom("process", str(simulated / "pair"), "--out", str(out), "--config", str(config), cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "done ->" in first.stdout and (out / "DONE").exists()
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["training"]["iterations"] == 100
    assert report["model"]["cache"]["result"] == "miss"
    assert (tmp_path / "state" / "models").is_dir()
    again = scoutzoom(
        "process", str(simulated / "pair"), "--out", str(out), "--config", str(config), "--json", cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["status"] == "skipped" and "already processed" in summary["message"]
    assert summary["out_dir"] == str(out)
    _check_units(out / "recovered.ome.tif", report["output"]["spacing_mm"])


def _check_units(path: Path, spacing_mm: list[float]) -> None:
    """The recovered volume says its values are 1/mm (OME annotation, description), its pixel pitch in TIFF tags."""
    import tifffile

    from pipeline.output.volumes import read_value_unit

    assert read_value_unit(path) == "1/mm"
    with tifffile.TiffFile(path) as tif:
        assert 'K="value_unit">1/mm<' in tif.ome_metadata
        tags = tif.pages[0].tags
        assert tags["ResolutionUnit"].value == tifffile.RESUNIT.CENTIMETER
        numerator, denominator = tags["XResolution"].value
        assert numerator / denominator == pytest.approx(10.0 / spacing_mm[0], rel=1e-4)  # pixels per cm


def test_bad_config_key_is_reported_with_its_path(simulated: Path, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[pipeline.training]\niteratons = 100\n")
    result = scoutzoom("process", str(simulated / "pair"), "--config", str(config), cwd=tmp_path)
    assert result.returncode != 0
    assert "training.iteratons" in result.stderr


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    result = scoutzoom("demo", str(tmp_path / "demo"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = tmp_path / "demo" / "output"
    report = json.loads((out / "report.json").read_text())
    assert report["quality"]["psnr_recovered_db"] > report["quality"]["psnr_cubic_db"]
    assert (out / "previews" / "heldout_axial.png").is_file()
