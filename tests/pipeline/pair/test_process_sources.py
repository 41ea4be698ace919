"""A pair given as two paths of any format (``process --scout A --zoom B``), and volume-scan pairs, end to end.

The fast tests check the wiring on tiny files (bad input refused naming the file, completeness per format,
volume scans resampled instead of reconstructed); the round trips run the simulated pair through the whole
pipeline once per format mix and are marked slow (about a minute each on the shared 2-core machine).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

from daemon import exit_codes
from daemon.cli import main as scoutzoom
from pipeline.acquisition.contract import ScanMetadata
from pipeline.acquisition.reader import read_metadata
from pipeline.acquisition.volume import read_volume_scan, resample_onto
from pipeline.acquisition.writer import write_scan
from pipeline.grid import VolumeGrid
from pipeline.output.volumes import write_ome_tiff
from pipeline.pair import steps
from pipeline.pair.conditions import scan_conditions
from pipeline.pair.sources import PairSources, check_sources, sources_fingerprint
from tests.pipeline.acquisition.formats.convert import to_nxtomo, to_txrm, to_xtekct
from tests.pipeline.pair.conftest import fast_config

ROWS, COLUMNS, COUNT = 8, 10, 12


def tiny_scan(folder: Path, role: str, source_to_axis_mm: float = 30.0) -> Path:
    """A contract-v1 intensity scan small enough to convert in milliseconds."""
    meta = ScanMetadata.model_validate(
        {
            "format_version": 1,
            "role": role,
            "sample_id": "tiny",
            "values": "intensity",
            "geometry": {
                "source_to_axis_mm": source_to_axis_mm,
                "source_to_detector_mm": 240.0,
                "detector_shape": [ROWS, COLUMNS],
                "detector_pixel_mm": [0.2, 0.2],
                "angles_deg": {"start": 0.0, "step": 30.0, "count": COUNT},
            },
        }
    )
    counts = np.full((COUNT, ROWS, COLUMNS), 20000, np.uint16)
    write_scan(folder, meta, counts, flat=np.full((ROWS, COLUMNS), 30000, np.uint16))
    return folder


def volume_folder(folder: Path, volume: np.ndarray, grid: VolumeGrid, role: str, position_mm: list[float]) -> Path:
    """A volume scan (``scan.json`` + OME-TIFF carrying the voxel size), as a lab holding reconstructions has it."""
    folder.mkdir(parents=True, exist_ok=True)
    write_ome_tiff(folder / "volume.ome.tif", volume.astype(np.float32), grid)
    document = {
        "format_version": 1,
        "role": role,
        "data": "volume",
        "sample_id": "sim",
        "volume": {"file": "volume.ome.tif", "units": "1/mm"},
        "sample_position_mm": position_mm,
    }
    (folder / "scan.json").write_text(json.dumps(document))
    return folder


def bare_volume(path: Path, volume: np.ndarray, grid: VolumeGrid, role: str, position_mm: list[float]) -> Path:
    """A lone OME-TIFF with what the file lacks (role, stage position) in its ``.scoutzoom.json`` sidecar."""
    write_ome_tiff(path, volume.astype(np.float32), grid)
    sidecar = path.with_name(path.name + ".scoutzoom.json")
    sidecar.write_text(json.dumps({"role": role, "sample_id": "sim", "sample_position_mm": position_mm}))
    return path


# -- fast: the command line refuses bad input before anything is written -----------------------------------------


def _bad_inputs(tmp: Path) -> dict[str, tuple[list[str], str]]:
    scout = to_txrm(tiny_scan(tmp / "c_scout", "scout"), tmp / "scout.txrm")
    zoom = to_txrm(tiny_scan(tmp / "c_zoom", "zoom", 10.0), tmp / "zoom.txrm")
    cut = tmp / "cut.txrm"
    cut.write_bytes(zoom.read_bytes()[:700])
    (tmp / "notes.txt").write_text("not a scan")
    declared_zoom = tiny_scan(tmp / "declared", "zoom")
    return {
        "missing file": (["--scout", str(tmp / "absent.txrm"), "--zoom", str(zoom)], "absent.txrm"),
        "unsupported file": (["--scout", str(scout), "--zoom", str(tmp / "notes.txt")], "notes.txt"),
        "broken compound file": (["--scout", str(scout), "--zoom", str(cut)], "cut.txrm"),
        "role contradicts scan.json": (["--scout", str(declared_zoom), "--zoom", str(zoom)], "declares role 'zoom'"),
        "zoom without scout": (["--zoom", str(zoom)], "--scout missing"),
        "folder and paths": ([str(tmp), "--scout", str(scout), "--zoom", str(zoom)], "not both"),
        "same file twice": (["--scout", str(scout), "--zoom", str(scout)], "given as both"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing file",
        "unsupported file",
        "broken compound file",
        "role contradicts scan.json",
        "zoom without scout",
        "folder and paths",
        "same file twice",
    ],
)
def test_bad_two_path_input_is_refused_naming_the_file(case: str, tmp_path: Path, capsys) -> None:
    args, named = _bad_inputs(tmp_path)[case]
    code = scoutzoom(["process", *args, "--out", str(tmp_path / "out")])
    error = capsys.readouterr().err
    assert code == exit_codes.USAGE
    assert named in error, error
    assert not (tmp_path / "out").exists()


def test_two_sources_are_checked_and_fingerprinted_by_their_own_format(tmp_path: Path) -> None:
    scout = to_txrm(tiny_scan(tmp_path / "c_scout", "scout"), tmp_path / "scout.txrm")
    zoom = to_nxtomo(tiny_scan(tmp_path / "c_zoom", "zoom", 10.0), tmp_path / "zoom.nx")
    pair = PairSources.from_paths(scout, zoom)
    assert check_sources(pair).complete, check_sources(pair).reasons
    first = sources_fingerprint(pair)
    scans = steps.read_pair(pair)
    assert scans.scout.meta.voxel_mm == pytest.approx(0.2 / 8) and scans.zoom.meta.voxel_mm == pytest.approx(0.2 / 24)
    scout.write_bytes(scout.read_bytes()[: scout.stat().st_size // 2])  # a .txrm still being written
    result = check_sources(pair)
    assert not result.complete and result.reasons[0].startswith("scout scout.txrm"), result.reasons
    assert sources_fingerprint(pair) != first


# -- fast: a volume scan is resampled where a projection scan is reconstructed ------------------------------------


def test_a_volume_scan_is_resampled_onto_any_grid_and_says_so(tmp_path: Path) -> None:
    grid = VolumeGrid.isotropic((12, 16, 16), 0.05)
    z, y, x = np.meshgrid(*(np.linspace(0, 1, n) for n in grid.shape_zyx), indexing="ij")
    volume = (np.sin(5 * x) * np.cos(3 * y) + z).astype(np.float32)
    scan = read_volume_scan(volume_folder(tmp_path / "scout", volume, grid, "scout", [0.1, 0.0, 0.0]))
    target = VolumeGrid.isotropic((8, 10, 10), 0.02, (0.05, -0.03, 0.02))

    result = steps.reconstruct_on(scan, target, fast_config())

    assert result.info is not None and result.info.backend == steps.RESAMPLED and result.info.projections == 0
    np.testing.assert_allclose(result.volume, resample_onto(scan, target).volume)
    assert steps.prefilter(scan, fast_config(), tmp_path, "scout") is None
    assert steps.native_grid(scan) == grid
    assert steps.field_of_view_mm(scan) == pytest.approx((0.8, 0.8, 0.6))
    record = scan_conditions(scan.meta)
    assert record.voxel_mm == pytest.approx(0.05) and record.detector_shape == (0, 0)


def test_a_pair_folder_holding_a_volume_scan_is_checked_by_the_volume_rules(tmp_path: Path) -> None:
    from pipeline.acquisition.completeness import check_pair

    grid = VolumeGrid.isotropic((6, 8, 8), 0.05)
    noise = np.random.default_rng(5).random(grid.shape_zyx)  # incompressible: the cut below lands in slice data
    folder = volume_folder(tmp_path / "pair" / "scout", noise, grid, "scout", [0.0, 0.0, 0.0])
    tiny_scan(tmp_path / "pair" / "zoom", "zoom")
    assert check_pair(tmp_path / "pair").complete, check_pair(tmp_path / "pair").reasons
    data = (folder / "volume.ome.tif").read_bytes()
    (folder / "volume.ome.tif").write_bytes(data[: len(data) // 2])  # the last slices not written yet
    result = check_pair(tmp_path / "pair")
    assert not result.complete and "scout" in result.reasons[0], result.reasons


# -- slow: whole pairs through process ------------------------------------------------------------------------------


def registration_error_vox(out: Path, simulated: Path) -> float:
    """The registered zoom centre's distance from the simulator's truth, in zoom voxels."""
    from pipeline.simulate import load_truth

    truth, _ = load_truth(simulated / "truth")
    found = np.asarray(json.loads((out / "report.json").read_text())["registration"]["zoom_centre_in_scout_mm"])
    return float(np.linalg.norm(found - np.asarray(truth.zoom_position_true_mm)) / truth.zoom_voxel_true_mm)


FAST_TOML = (
    '[pipeline]\npreset = "small"\n[pipeline.training]\niterations = 200\n'
    "[pipeline.inference]\ntile_px = 64\noverlap_px = 8\n[pipeline.output.region]\nvoxel_budget = 1000000\n"
)


@pytest.mark.slow  # one whole pair (about a minute on the shared 2-core machine)
def test_process_scout_txrm_and_zoom_nxtomo_from_the_command_line(simulated: Path, tmp_path: Path, capsys) -> None:
    scout = to_txrm(simulated / "pair" / "scout", tmp_path / "sample_scout.txrm")
    zoom = to_nxtomo(simulated / "pair" / "zoom", tmp_path / "sample_zoom.nx")
    (tmp_path / "fast.toml").write_text(FAST_TOML)
    args = ["process", "--scout", str(scout), "--zoom", str(zoom), "--config", str(tmp_path / "fast.toml")]

    code = scoutzoom([*args, "--no-cache", "--json"])

    summary = json.loads(capsys.readouterr().out)
    assert code == exit_codes.OK, summary
    out = tmp_path / "sample_zoom.recovered"  # the default: beside the zoom
    assert summary["status"] == "done" and Path(summary["out_dir"]) == out and (out / "DONE").is_file()
    report = json.loads((out / "report.json").read_text())
    assert {info["backend"] for info in report["reconstruction"].values()} != {steps.RESAMPLED}
    # measured (seed 11): 0.046 zoom voxel from the truth, as the contract-v1 folder run; test_process allows 0.5
    assert registration_error_vox(out, simulated) < 0.25
    assert report["trust"]["psnr_gain_db"] > 0.3  # measured 1.4 dB over cubic on the test slab
    assert scoutzoom([*args, "--no-cache", "--json"]) == exit_codes.OK
    assert json.loads(capsys.readouterr().out)["status"] == "skipped"


@pytest.mark.slow  # two FDKs to make the volumes, then one whole pair (about a minute)
def test_a_volume_pair_skips_fdk_and_registers_like_the_projection_pair(simulated: Path, tmp_path: Path) -> None:
    from pipeline.pair.process import process_pair

    config = fast_config()
    scans = steps.read_pair(simulated / "pair")
    made = {
        role: steps.reconstruct_on(scan, steps.native_grid(scan), config, interior=role == "zoom")
        for role, scan in (("scout", scans.scout), ("zoom", scans.zoom))
    }
    scout = volume_folder(
        tmp_path / "scout_volume",
        made["scout"].volume,
        made["scout"].grid,
        "scout",
        list(scans.scout.meta.sample_position_mm),
    )
    zoom = bare_volume(
        tmp_path / "zoom.ome.tif",
        made["zoom"].volume,
        made["zoom"].grid,
        "zoom",
        list(scans.zoom.meta.sample_position_mm),
    )

    outcome = process_pair(PairSources.from_paths(scout, zoom), tmp_path / "out", config)

    assert outcome.status == "done", outcome.message
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert {info["backend"] for info in report["reconstruction"].values()} == {steps.RESAMPLED}
    assert any("reconstructed volume: resampled" in line for line in report["warnings"])
    assert report["output"]["voxel_mm"] == pytest.approx(made["zoom"].grid.voxel_mm)
    # measured (seed 11): 0.048 zoom voxel from the truth (the projection pair: 0.046); 1.1 dB over cubic
    assert registration_error_vox(tmp_path / "out", simulated) < 0.25
    assert report["trust"]["psnr_gain_db"] > 0.3


@pytest.mark.slow  # one FDK to make the scout volume, then one whole pair (about a minute)
def test_a_volume_scout_with_the_zoom_as_projections(simulated: Path, tmp_path: Path) -> None:
    """Mixed: the scout reconstructed elsewhere (a lone OME-TIFF), the zoom a contract-v1 scan folder given by path."""
    from pipeline.pair.process import process_pair

    config = fast_config()
    scans = steps.read_pair(simulated / "pair")
    native = steps.reconstruct_on(scans.scout, steps.native_grid(scans.scout), config)
    scout = bare_volume(
        tmp_path / "scout.ome.tif", native.volume, native.grid, "scout", list(scans.scout.meta.sample_position_mm)
    )

    outcome = process_pair(PairSources.from_paths(scout, simulated / "pair" / "zoom"), tmp_path / "out", config)

    assert outcome.status == "done", outcome.message
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    backends = {name: info["backend"] for name, info in report["reconstruction"].items()}
    assert backends["scout_native"] == backends["output_region"] == steps.RESAMPLED
    assert backends["zoom"] != steps.RESAMPLED
    assert registration_error_vox(tmp_path / "out", simulated) < 0.25  # measured 0.044 zoom voxel (seed 11)


@pytest.mark.slow  # two whole pairs, 20 training iterations each (measured 31-65 s on the shared 2-core machine)
def test_process_nikon_xtekct_pair_registers_as_the_contract_v1_run(simulated: Path, tmp_path: Path, capsys) -> None:
    """The simulated pair as two Nikon folders (stage positions in sidecars: xtekct has none) through ``process``,
    against the same pair processed as its contract-v1 folder: registration and recovered volume, not the truth."""
    config = tmp_path / "fast.toml"
    config.write_text(FAST_TOML.replace("iterations = 200", "iterations = 20"))
    nikon = {}
    for role in ("scout", "zoom"):
        scan = simulated / "pair" / role
        nikon[role] = to_xtekct(scan, tmp_path / f"nikon_{role}", name=f"sample_{role}")
        position = json.loads((scan / "scan.json").read_text())["sample_position_mm"]
        sidecar = nikon[role].with_name(nikon[role].name + ".scoutzoom.json")
        sidecar.write_text(json.dumps({"sample_id": "sim", "sample_position_mm": position}))
    runs = {
        "contract": [str(simulated / "pair"), "--out", str(tmp_path / "contract")],
        "nikon": [
            "--scout",
            str(nikon["scout"].parent),
            "--zoom",
            str(nikon["zoom"]),
            "--out",
            str(tmp_path / "nikon"),
        ],
    }
    for name, args in runs.items():
        code = scoutzoom(["process", *args, "--config", str(config), "--no-cache", "--json"])
        summary = json.loads(capsys.readouterr().out)
        assert code == exit_codes.OK and summary["status"] == "done", (name, summary)

    reports = {name: json.loads((tmp_path / name / "report.json").read_text()) for name in runs}
    centres = {name: np.asarray(r["registration"]["zoom_centre_in_scout_mm"]) for name, r in reports.items()}
    zoom_voxel_mm = read_metadata(simulated / "pair" / "zoom").voxel_mm
    assert reports["nikon"]["output"]["voxel_mm"] == pytest.approx(reports["contract"]["output"]["voxel_mm"], rel=1e-6)
    assert {info["backend"] for info in reports["nikon"]["reconstruction"].values()} != {steps.RESAMPLED}
    apart_vox = float(np.linalg.norm(centres["nikon"] - centres["contract"]) / zoom_voxel_mm)
    # measured (seed 11): 1.4e-7 zoom voxel apart (both 0.031 voxel from the truth); the issue asks for < 0.1
    assert apart_vox < 0.1, f"xtekct registration {apart_vox:.3g} zoom voxel from the contract-v1 run"
    volumes = {name: tifffile.imread(tmp_path / name / "recovered.ome.tif") for name in runs}
    assert volumes["nikon"].shape == volumes["contract"].shape
    # measured: at most 1.3e-6 apart on a range of 1.33 (float32 noise of the conversion; training is seeded)
    assert np.abs(volumes["nikon"] - volumes["contract"]).max() < 1e-3 * np.ptp(volumes["contract"])
