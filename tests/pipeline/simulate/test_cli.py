"""``scoutzoom simulate`` command line."""

from __future__ import annotations

import json
from pathlib import Path

from daemon import exit_codes
from daemon.cli import main


def test_simulate_writes_pair_and_truth(tmp_path: Path, capsys) -> None:
    out = tmp_path / "sim"
    rc = main(
        [
            "simulate",
            str(out),
            "--ratio",
            "4",
            "--seed",
            "2",
            "--detector-px",
            "32",
            "--angles",
            "8",
            "--pores",
            "150",
            "--photons",
            "3000",
            "--stage-error-mm",
            "0.01",
            "--rotation-deg",
            "0",
            "0",
            "1",
            "--layout",
            "files",
            "--no-truth-volumes",
        ]
    )
    assert rc == exit_codes.OK
    assert "porosity" in capsys.readouterr().out
    truth = json.loads((out / "truth" / "truth.json").read_text())
    assert truth["ratio"] == 4 and truth["seed"] == 2 and truth["n_pores"] == 150
    assert truth["config"]["scout"]["photons"] == truth["config"]["zoom"]["photons"] == 3000
    assert abs(sum(e * e for e in truth["zoom_position_error_mm"]) ** 0.5 - 0.01) < 1e-12
    assert truth["remount_rotation_deg"] == [0, 0, 1]
    assert len(list((out / "pair" / "zoom").glob("proj_*.tif"))) == 8
    assert not (out / "truth" / "zoom.tif").exists()


def test_impossible_settings_are_a_usage_error(tmp_path: Path, capsys) -> None:
    rc = main(["simulate", str(tmp_path / "x"), "--pores", "20", "--porosity", "0.4", "--no-truth-volumes"])
    assert rc == exit_codes.USAGE
    assert "porosity" in capsys.readouterr().err
    rc = main(["simulate", str(tmp_path / "y"), "--ratio", "50"])
    assert rc == exit_codes.USAGE
