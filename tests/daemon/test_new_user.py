"""What a new user tries first: --version, a mistyped path, --json everywhere, the files an installation needs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from daemon import exit_codes
from daemon.cli import main
from tests.daemon.pairs import make_incomplete_pair, make_pair

REPO = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_version_prints_the_installed_version(capsys) -> None:
    from importlib import metadata

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"scoutzoom {metadata.version('scoutzoom')}"


@pytest.mark.parametrize("kind", ["missing", "file", "empty folder"])
def test_process_on_a_path_that_is_no_pair_is_a_usage_error_that_creates_nothing(
    tmp_path: Path, capsys, kind: str
) -> None:
    target = tmp_path / "sampel-7"  # a typo
    if kind == "file":
        target.write_text("not a folder")
    elif kind == "empty folder":
        target.mkdir()
    before = sorted(tmp_path.rglob("*"))
    code, out, err = run(capsys, "process", str(target), "--out", str(tmp_path / "out"), "--no-cache")
    assert code == exit_codes.USAGE
    assert str(target) in err and out == ""
    assert sorted(tmp_path.rglob("*")) == before  # no <typo>/recovered/FAILED.json, no --out folder


def test_process_json_summary_of_a_failed_pair(tmp_path: Path, capsys) -> None:
    pair = make_incomplete_pair(tmp_path / "pair")
    code, out, _ = run(
        capsys, "process", str(pair), "--out", str(tmp_path / "out"), "--no-cache", "--preset", "small", "--json"
    )
    summary = json.loads(out)
    assert code == exit_codes.FAILED
    assert summary["status"] == "failed" and summary["pair"] == str(pair) and summary["stage"]
    assert Path(summary["failed_json"]).is_file() and summary["message"]


def test_process_json_summary_reads_the_report(tmp_path: Path) -> None:
    from daemon.commands.process import summary
    from pipeline.pair.process import ProcessOutcome

    (tmp_path / "report.json").write_text(
        json.dumps(
            {
                "model": {"id": "m1", "reused": True, "runtime": "onnxruntime", "training_curve": []},
                "quality": {"psnr_recovered_db": 23.0, "psnr_cubic_db": 20.7},
                "trust": {"flagged": False, "reasons": [], "heldout_voxels": 10},
            }
        )
    )
    outcome = ProcessOutcome(
        status="done", out_dir=tmp_path, report_path=tmp_path / "report.json", voxels_recovered=1000
    )
    result = summary(Path("/data/p"), outcome)
    json.dumps(result)  # JSON-ready
    assert result["model"] == {"id": "m1", "reused": True, "runtime": "onnxruntime"}
    assert result["quality"]["psnr_recovered_db"] == 23.0 and result["trust"] == {"flagged": False, "reasons": []}
    assert result["recovered"] == str(tmp_path / "recovered.ome.tif") and result["voxels_recovered"] == 1000


def test_a_bad_config_file_is_a_usage_error(tmp_path: Path, capsys) -> None:
    make_pair(tmp_path / "pair")
    code, _, err = run(capsys, "process", str(tmp_path / "pair"), "--config", str(tmp_path / "missing.toml"))
    assert code == exit_codes.USAGE and "missing.toml" in err
    assert not (tmp_path / "pair" / "recovered").exists()


def test_check_config_json(tmp_path: Path, capsys) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[watch]\nroots = ["/nonexistent/scans"]\n[metrics]\nprot = 1\n')
    code, out, _ = run(capsys, "check-config", str(config), "--json")
    result = json.loads(out)
    assert code == exit_codes.USAGE and result["ok"] is False and result["file"] == str(config)
    assert any("metrics.prot" in problem for problem in result["problems"])
    scans = tmp_path / "scans"
    scans.mkdir()
    config.write_text(f'state_dir = "{tmp_path}"\n[watch]\nroots = ["{scans}"]\n')  # output root beside the watch root
    code, out, _ = run(capsys, "check-config", str(config), "--json")
    assert code == exit_codes.OK and json.loads(out) == {"file": str(config), "ok": True, "problems": []}


def test_inspect_a_pair_and_a_scan(tmp_path: Path, capsys) -> None:
    pair = make_pair(tmp_path / "pair")
    code, out, _ = run(capsys, "inspect", str(pair), "--json")
    result = json.loads(out)
    assert code == exit_codes.OK and result["kind"] == "pair" and result["complete"] is True
    assert result["scout"]["geometry"]["detector_shape"] == [8, 8] and result["scout"]["geometry"]["projections"] == 6
    assert result["scout"]["geometry"]["magnification"] == pytest.approx(10.0)
    assert result["scout"]["voxel_mm"] == pytest.approx(0.02) and result["voxel_ratio"] == pytest.approx(1.0)
    code, out, _ = run(capsys, "inspect", str(pair / "zoom"))
    assert code == exit_codes.OK and "zoom scan of 'test'" in out and "magnification 10" in out and "complete" in out


def test_inspect_says_what_is_missing_and_rejects_non_scans(tmp_path: Path, capsys) -> None:
    pair = make_incomplete_pair(tmp_path / "pair")
    code, out, _ = run(capsys, "inspect", str(pair / "zoom"), "--json")
    result = json.loads(out)
    assert code == exit_codes.OK and result["complete"] is False and result["problems"]
    (pair / "scout" / "scan.json").write_text('{"format_version": 1, "role": "scout"}')
    code, _, err = run(capsys, "inspect", str(pair / "scout"))
    assert code == exit_codes.FAILED and "scan.json" in err and "sample_id" in err
    code, _, err = run(capsys, "inspect", str(tmp_path / "nothing-here"))
    assert code == exit_codes.USAGE and "neither a scan nor a pair folder" in err


def test_config_example_is_the_full_valid_example(capsys) -> None:
    from daemon.config import validate_config

    code, out, _ = run(capsys, "config", "example")
    assert code == exit_codes.OK and "scoutzoom config example" in out
    uncommented = "\n".join(re.sub(r"^# (\w+ = )", r"\1", line) for line in out.splitlines())
    document = tomllib.loads(uncommented)
    config = validate_config(document)
    assert config.watch.roots and "pipeline" in document and "metrics" in document


def test_config_systemd_unit_is_the_packaged_unit(capsys) -> None:
    code, out, _ = run(capsys, "config", "systemd-unit")
    assert code == exit_codes.OK
    assert out == (REPO / "systemd" / "scoutzoom.service").read_text()  # the checkout's link and the package data agree
    documentation = re.search(r"^Documentation=(\S+)$", out, re.M).group(1)
    assert not documentation.startswith("https://github.com/scoutzoom")  # the old placeholder
    assert documentation.startswith(("file:/", "man:", "https://"))
    code, out, _ = run(
        capsys, "config", "systemd-unit", "--executable", "/srv/venv/bin/scoutzoom", "--config", "/srv/sz.toml"
    )
    assert "ExecStart=/srv/venv/bin/scoutzoom watch --config /srv/sz.toml" in out
    assert "ExecStartPre=/srv/venv/bin/scoutzoom check-config /srv/sz.toml" in out and "/opt/scoutzoom" not in out


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_printed_unit_with_this_installation_passes_systemd_analyze(tmp_path: Path, capsys) -> None:
    code, out, _ = run(capsys, "config", "systemd-unit", "--executable", "auto")
    assert code == exit_codes.OK and str(Path(sys.executable).parent / "scoutzoom") in out
    unit = tmp_path / "scoutzoom.service"
    unit.write_text(out)
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "scoutzoom.service" not in result.stderr  # no warning about our unit (e.g. an invalid Documentation= URL)


def test_config_readme_is_the_readme(capsys) -> None:
    code, out, _ = run(capsys, "config", "readme")
    assert code == exit_codes.OK and out.startswith("# scoutzoom") and "scoutzoom watch" in out


def test_pyproject_ships_the_unit_and_declares_the_license() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["tool"]["setuptools"]["package-data"]["daemon.data"] == ["*.service"]
    assert project["project"]["license"] == {"text": "Apache-2.0"}
    license_text = (REPO / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text


@pytest.mark.slow
def test_wheel_carries_the_unit_and_the_license(tmp_path: Path) -> None:
    import zipfile

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(REPO),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("scoutzoom-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "daemon/data/scoutzoom.service" in names
    assert any(name.endswith(".dist-info/LICENSE") or "/licenses/LICENSE" in name for name in names)


def test_help_says_bench_needs_a_source_checkout(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "bench` runs from a source checkout only" in text and "config example" in text


def test_inspect_a_volume_scan_reads_its_header(tmp_path: Path, capsys) -> None:
    import numpy as np
    import tifffile

    scan = tmp_path / "scout"
    scan.mkdir()
    tifffile.imwrite(scan / "volume.tif", np.zeros((8, 16, 12), np.float32))
    volume = {"file": "volume.tif", "voxel_mm": 0.02, "units": "1/mm"}
    document = {"format_version": 1, "role": "scout", "data": "volume", "sample_id": "s", "volume": volume}
    (scan / "scan.json").write_text(json.dumps(document))
    code, out, _ = run(capsys, "inspect", str(scan), "--json")
    result = json.loads(out)
    assert code == exit_codes.OK and result["complete"] is True and result["shape_zyx"] == [8, 16, 12]
    assert result["voxel_zyx_mm"] == [0.02, 0.02, 0.02] and result["volume"]["units"] == "1/mm"
    (scan / "volume.tif").unlink()
    code, out, _ = run(capsys, "inspect", str(scan), "--json")
    assert json.loads(out)["complete"] is False and "volume.tif missing" in json.loads(out)["problems"][0]


def test_config_readme_survives_importlib_metadata_taking_over(capsys) -> None:
    """dask imports the importlib_metadata backport, whose Message keeps the README in a field, not the body."""
    pytest.importorskip("importlib_metadata")
    import dask  # noqa: F401  (registers the backport's finder ahead of the stdlib's)

    code, out, _ = run(capsys, "config", "readme")
    assert code == exit_codes.OK and out.startswith("# scoutzoom") and "scoutzoom watch" in out
