"""``scoutzoom inspect PATH`` on every supported source and on pair folders holding vendor files (through the CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

from daemon import exit_codes
from daemon.cli import main
from pipeline.acquisition.contract import ScanMetadata
from tests.daemon.pairs import make_pair
from tests.pipeline.acquisition.formats.conftest import ANGLES, COLUMNS, ROWS, counts, reference_document
from tests.pipeline.acquisition.formats.nikon_files import write_xtekct
from tests.pipeline.acquisition.formats.nxtomo_files import nx_frames, write_h5
from tests.pipeline.acquisition.formats.zeiss_files import write_txm, write_txrm


def inspect(capsys: pytest.CaptureFixture[str], path: Path, *flags: str) -> tuple[int, str, str]:
    code = main(["inspect", str(path), *flags])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def inspect_json(capsys: pytest.CaptureFixture[str], path: Path) -> dict:
    code, out, err = inspect(capsys, path, "--json")
    assert code == exit_codes.OK, err
    return json.loads(out)


@pytest.fixture
def txrm(tmp_path, reference_meta, line_integrals, flat) -> Path:
    return write_txrm(tmp_path / "zoom.txrm", reference_meta, counts(line_integrals, flat), flat)


def test_txrm_geometry_positions_conditions_and_shape(capsys, txrm) -> None:
    result = inspect_json(capsys, txrm)
    assert result["kind"] == "scan" and result["format"] == "zeiss-txrm" and result["role"] is None
    assert result["complete"] is True and result["projection_shape"] == [ANGLES, ROWS, COLUMNS]
    g = result["geometry"]
    assert (g["source_to_axis_mm"], g["source_to_detector_mm"]) == pytest.approx((20.0, 200.0))
    assert g["detector_offset_px"] == pytest.approx([0.0, 1.25]) and g["magnification"] == pytest.approx(10.0)
    assert (g["first_angle_deg"], g["last_angle_deg"]) == pytest.approx((0.0, 330.0))
    assert result["sample_position_mm"] == pytest.approx([0.25, -0.5, 1.5])
    assert result["conditions"]["voltage_kv"] == 80.0 and result["conditions"]["filter"] == "LE2"
    code, out, _ = inspect(capsys, txrm)
    assert code == exit_codes.OK and "zeiss-txrm" in out and "projections 12x6x8" in out
    assert "source to axis 20 mm, to detector 200 mm" in out and "'voltage_kv': 80.0" in out and "complete" in out


def test_nikon_file_and_folder(capsys, tmp_path, line_integrals) -> None:
    path = write_xtekct(tmp_path / "nikon", np.round(60000 * np.exp(-line_integrals)).astype(np.uint16))
    by_file, by_folder = inspect_json(capsys, path), inspect_json(capsys, path.parent)
    assert by_file == by_folder and by_file["format"] == "nikon-xtekct" and by_file["complete"] is True
    assert by_file["projection_shape"] == [ANGLES, ROWS, COLUMNS] and by_file["sample_id"] == "foam"
    assert by_file["conditions"] == {"voltage_kv": 80.0, "current_ua": 87.0, "filter": "Copper 0.5 mm"}
    assert by_file["vendor"]["white_level"] == 60000.0
    assert by_file["geometry"]["source_to_detector_mm"] == pytest.approx(200.0)


@pytest.mark.parametrize("suffix", [".nx", ".nxs", ".h5"])
def test_nxtomo(capsys, tmp_path, line_integrals, flat, suffix) -> None:
    path = write_h5(tmp_path / f"zoom{suffix}", *nx_frames(line_integrals, flat))
    result = inspect_json(capsys, path)
    assert result["format"] == "nxtomo" and result["sample_id"] == "foam-0007" and result["complete"] is True
    assert result["projection_shape"] == [ANGLES, ROWS, COLUMNS]
    assert result["sample_position_mm"] == pytest.approx([0.25, -0.5, 1.5])
    assert result["conditions"] == {"energy_kev": 45.0}


def _ome(path: Path) -> None:
    voxel = {"PhysicalSizeX": 10.0, "PhysicalSizeY": 10.0, "PhysicalSizeZ": 20.0}
    tifffile.imwrite(path, np.ones((4, 6, 7), np.float32), ome=True, metadata={"axes": "ZYX", **voxel})


def _itk(path: Path) -> None:
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.ones((4, 6, 7), np.float32))
    image.SetSpacing((0.01, 0.01, 0.02))  # x, y, z mm
    sitk.WriteImage(image, str(path))


@pytest.mark.parametrize(
    ("name", "write"),
    [
        ("v.ome.tif", _ome),
        ("v.tif", lambda p: tifffile.imwrite(p, np.ones((4, 6, 7), np.float32), photometric="minisblack")),
        ("v.nrrd", _itk),
        ("v.mha", _itk),
        ("v.nii.gz", _itk),
        ("v.txm", lambda p: write_txm(p, np.ones((4, 6, 7), np.float32), voxel_um=10.0)),
    ],
)
def test_volume_files(capsys, tmp_path, name, write) -> None:
    write(tmp_path / name)
    result = inspect_json(capsys, tmp_path / name)
    assert result["data"] == "volume" and result["shape_zyx"] == [4, 6, 7]
    assert result["format"] == ("zeiss-txm" if name.endswith(".txm") else "volume-file")
    if name == "v.tif":  # a plain TIFF carries no voxel size: reported, not guessed
        assert result["complete"] is False and "no voxel size" in result["problems"][0]
    else:
        expected = [0.01] * 3 if name.endswith(".txm") else [0.02, 0.01, 0.01]
        assert result["complete"] is True and result["voxel_zyx_mm"] == pytest.approx(expected)
    code, out, _ = inspect(capsys, tmp_path / name)
    assert code == exit_codes.OK and "4x6x7 voxels z, y, x" in out


def test_contract_scan_and_pair_folder_with_vendor_scans(capsys, tmp_path, line_integrals, flat) -> None:
    contract = make_pair(tmp_path / "contract")
    result = inspect_json(capsys, contract / "zoom")
    assert result["format"] == "contract" and result["role"] == "zoom" and result["complete"] is True
    pair = tmp_path / "pair"
    (pair / "scout").mkdir(parents=True)
    (pair / "zoom").mkdir()
    scout_meta = ScanMetadata.model_validate(reference_document("scout"))
    write_txrm(pair / "scout" / "s.txrm", scout_meta, counts(line_integrals, flat), flat)
    write_h5(pair / "zoom" / "z.nx", *nx_frames(line_integrals, flat), translation_um=(1250.0, -1500.0, 500.0))
    result = inspect_json(capsys, pair)
    assert result["kind"] == "pair" and result["complete"] is True
    assert (result["scout"]["format"], result["scout"]["role"]) == ("zeiss-txrm", "scout")
    assert (result["zoom"]["format"], result["zoom"]["role"]) == ("nxtomo", "zoom")
    assert result["zoom_centre_in_scout_mm"] == pytest.approx([1.0, 0.0, 0.0]) and result["voxel_ratio"] == 1.0
    code, out, _ = inspect(capsys, pair)
    assert code == exit_codes.OK and "scout scan of 's' (zeiss-txrm" in out and "zoom centre in the scout" in out


def test_nikon_folder_as_the_zoom_of_a_pair(capsys, tmp_path, reference_meta, line_integrals, flat) -> None:
    pair = tmp_path / "pair"
    (pair / "scout").mkdir(parents=True)
    write_txrm(pair / "scout" / "s.txrm", reference_meta, counts(line_integrals, flat), flat)
    write_xtekct(pair / "zoom", np.round(60000 * np.exp(-line_integrals)).astype(np.uint16))
    result = inspect_json(capsys, pair)
    assert result["zoom"]["format"] == "nikon-xtekct" and result["zoom"]["role"] == "zoom"


def test_incomplete_scan_is_reported_not_an_error(capsys, tmp_path, reference_meta, line_integrals, flat) -> None:
    taken = np.asarray([7], "<u4").tobytes()
    busy = write_txrm(
        tmp_path / "busy.txrm", reference_meta, counts(line_integrals, flat), flat, ImageInfo__ImagesTaken=taken
    )
    code, out, _ = inspect(capsys, busy)
    assert code == exit_codes.OK and "INCOMPLETE: busy.txrm: 7 of 12 images written" in out


def _cut(path: Path, keep: int) -> Path:
    """A copy of ``path`` holding its first ``keep`` bytes (all but ``-keep`` when negative)."""
    cut = path.with_name(f"cut{keep}{path.suffix}")
    cut.write_bytes(path.read_bytes()[:keep])
    return cut


def test_bad_and_truncated_files_name_the_file_and_the_problem(capsys, tmp_path, txrm, line_integrals, flat) -> None:
    frames = nx_frames(line_integrals, flat)
    (tmp_path / "text.txrm").write_text("not a compound file")
    nikon = write_xtekct(tmp_path / "nikon", np.ones((ANGLES, ROWS, COLUMNS), np.uint16), SrcToObject="far")
    cases = [
        (_cut(txrm, -4096), "truncated or still being written (cut-4096.txrm: FAT allocates sector"),
        (_cut(txrm, 1000), "corrupt compound file"),
        (tmp_path / "text.txrm", "not an OLE2 compound file"),
        (_cut(write_h5(tmp_path / "z.nx", *frames), 2000), "not a readable HDF5 file"),
        (write_h5(tmp_path / "p.nx", *frames, source_mm=None), "parallel-beam entry"),
        (nikon, "SrcToObject"),
    ]
    for bad, problem in cases:
        code, out, err = inspect(capsys, bad)
        assert code == exit_codes.FAILED and out == "", bad
        assert err.startswith(f"scoutzoom: error: {bad}: ") and problem in err, err


def test_what_is_no_scan_is_a_usage_error(capsys, tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    for path in (tmp_path / "notes.txt", tmp_path / "missing.txrm", tmp_path):
        code, _, err = inspect(capsys, path)
        assert code == exit_codes.USAGE and "neither a scan nor a pair folder" in err and ".xtekct" in err
