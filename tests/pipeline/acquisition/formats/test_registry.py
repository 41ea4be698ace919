"""Detecting the format of a path, sidecar additions, and reading any source."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

from models.errors import InputError
from pipeline.acquisition.formats.registry import Source, detect, read_any, read_metadata_any, sidecar
from pipeline.acquisition.volume import VolumeScan
from tests.pipeline.acquisition.formats.conftest import counts
from tests.pipeline.acquisition.formats.nikon_files import write_xtekct
from tests.pipeline.acquisition.formats.zeiss_files import write_txm, write_txrm


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("a.txrm", "zeiss-txrm"),
        ("A.TXM", "zeiss-txm"),
        ("s.xtekct", "nikon-xtekct"),
        ("t.nxs", "nxtomo"),
        ("t.h5", "nxtomo"),
        ("v.ome.tif", "volume-file"),
        ("v.nrrd", "volume-file"),
        ("v.nii.gz", "volume-file"),
        ("notes.txt", None),
        ("a.txrm.scoutzoom.json", None),
        (".a.txrm", None),
    ],
)
def test_detect_by_name(tmp_path, name, kind) -> None:
    (tmp_path / name).write_bytes(b"")
    found = detect(tmp_path / name)
    assert (found.kind if found else None) == kind


def test_detect_folders(tmp_path) -> None:
    contract, volume, nikon, empty = (tmp_path / n for n in ("c", "v", "n", "e"))
    for folder in (contract, volume, nikon, empty):
        folder.mkdir()
    (contract / "scan.json").write_text("{}")
    (volume / "scan.json").write_text(json.dumps({"data": "volume"}))
    (nikon / "foam.xtekct").write_text("[XTekCT]\n")
    assert detect(contract) == Source("contract", contract)
    assert detect(volume) == Source("volume-scan", volume)
    assert detect(nikon) == Source("nikon-xtekct", nikon / "foam.xtekct")
    assert detect(empty) is None
    (empty / "A.txrm").write_bytes(b"")
    assert detect(empty) == Source("zeiss-txrm", empty / "A.txrm")  # e.g. scout/A.txrm in a pair folder
    (empty / "B.txrm").write_bytes(b"")
    assert detect(empty) is None  # two candidates: not guessed


def test_sidecar_adds_what_the_vendor_file_lacks(tmp_path, line_integrals) -> None:
    white = np.round(60000 * np.exp(-line_integrals[..., ::-1])).astype(np.uint16)
    path = write_xtekct(tmp_path, white)
    (tmp_path / "foam.xtekct.scoutzoom.json").write_text(
        json.dumps(
            {
                "role": "scout",
                "sample_id": "foam-0007",
                "sample_position_mm": [0.1, 0.2, 0.3],
                "conditions": {"objective": "4X"},
            }
        )
    )
    meta = read_metadata_any(detect(path))
    assert (meta.role, meta.sample_id, meta.sample_position_mm) == ("scout", "foam-0007", (0.1, 0.2, 0.3))
    assert meta.conditions.objective == "4X" and meta.conditions.voltage_kv == 80.0  # merged, not replaced
    (tmp_path / "foam.xtekct.scoutzoom.json").write_text(json.dumps({"geometry": {}}))
    with pytest.raises(InputError, match="other than geometry"):
        sidecar(path)


def test_a_vendor_file_needs_a_role(tmp_path, reference_meta, line_integrals, flat) -> None:
    path = write_txrm(tmp_path / "z.txrm", reference_meta, counts(line_integrals, flat), flat)
    with pytest.raises(InputError, match="role unknown"):
        read_any(detect(path))
    assert read_any(detect(path), role="zoom").meta.role == "zoom"


def test_bare_volume_files(tmp_path) -> None:
    volume = np.ones((4, 6, 6), np.float32)
    tifffile.imwrite(
        tmp_path / "scout.ome.tif",
        volume,
        ome=True,
        metadata={"axes": "ZYX", "PhysicalSizeX": 20.0, "PhysicalSizeY": 20.0, "PhysicalSizeZ": 20.0},
    )
    scan = read_any(detect(tmp_path / "scout.ome.tif"), role="scout")
    assert (
        isinstance(scan, VolumeScan)
        and scan.meta.sample_id == "scout"
        and scan.grid.spacing_mm == pytest.approx((0.02,) * 3)
    )
    write_txm(tmp_path / "zoom.txm", volume, voxel_um=5.0)
    scan = read_any(detect(tmp_path / "zoom.txm"), role="zoom")
    assert isinstance(scan, VolumeScan) and scan.grid.spacing_mm == pytest.approx((0.005,) * 3)


def test_describe_reports_what_was_read(tmp_path, reference_meta, line_integrals, flat) -> None:
    from pipeline.acquisition.formats.inspect import describe

    path = write_txrm(tmp_path / "z.txrm", reference_meta, counts(line_integrals, flat), flat)
    report = describe(path)
    assert report["format"] == "zeiss-txrm" and report["complete"] and report["role"] is None
    assert report["projection_shape"] == [12, 6, 8] and report["conditions"]["voltage_kv"] == 80.0
    assert json.loads(json.dumps(report)) == report  # plain data, printable as JSON
    write_txm(tmp_path / "v.txm", np.ones((3, 4, 5), np.float32), voxel_um=10.0)
    assert describe(tmp_path / "v.txm")["shape_zyx"] == [3, 4, 5]
    with pytest.raises(InputError, match="not a supported scan"):
        describe(tmp_path / "missing.txt")


def test_find_sources_below_a_root(tmp_path, reference_meta, line_integrals, flat) -> None:
    from pipeline.acquisition.formats.registry import find_sources

    (tmp_path / "day1").mkdir()
    write_txrm(tmp_path / "day1" / "a.txrm", reference_meta, counts(line_integrals, flat), flat)
    write_xtekct(tmp_path / "day1" / "nikon", np.ones((12, 6, 8), np.uint16))
    (tmp_path / "pair" / "scout").mkdir(parents=True)
    (tmp_path / "pair" / "zoom").mkdir()
    (tmp_path / "pair" / "scout" / "x.txrm").write_bytes(b"")
    tifffile.imwrite(tmp_path / "stack.tif", np.ones((5, 4, 4), np.float32), photometric="minisblack")
    tifffile.imwrite(tmp_path / "slice.tif", np.ones((4, 4), np.float32))
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "b.txrm").write_bytes(b"")
    kinds = {s.path.relative_to(tmp_path).as_posix(): s.kind for s in find_sources(tmp_path)}
    assert kinds == {"day1/a.txrm": "zeiss-txrm", "day1/nikon/foam.xtekct": "nikon-xtekct", "stack.tif": "volume-file"}


def test_fingerprint_changes_with_content_not_with_reading(tmp_path, reference_meta, line_integrals, flat) -> None:
    from pipeline.acquisition.formats.fingerprint import pair_sources_fingerprint, source_fingerprint

    path = write_txrm(tmp_path / "z.txrm", reference_meta, counts(line_integrals, flat), flat)
    nikon = detect(write_xtekct(tmp_path / "n", np.ones((12, 6, 8), np.uint16)))
    before = source_fingerprint(detect(path)), source_fingerprint(nikon)
    read_any(detect(path), role="zoom")
    assert (source_fingerprint(detect(path)), source_fingerprint(nikon)) == before
    (tmp_path / "z.txrm.scoutzoom.json").write_text('{"sample_position_mm": [1, 2, 3]}')
    (tmp_path / "n" / "foam.xtekct").write_text(
        (tmp_path / "n" / "foam.xtekct").read_text().replace("XraykV = 80", "XraykV = 90")
    )
    after = source_fingerprint(detect(path)), source_fingerprint(nikon)
    assert after[0] != before[0] and after[1] != before[1]
    assert pair_sources_fingerprint(detect(path), nikon) != pair_sources_fingerprint(nikon, detect(path))
