"""Reading scans: layouts, value conversions, and every kind of bad input."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from models.errors import InputError, ScoutzoomError
from pipeline.acquisition.contract import ScanMetadata
from pipeline.acquisition.reader import read_metadata, read_scan
from pipeline.acquisition.writer import write_metadata, write_scan, write_tiff
from tests.pipeline.acquisition.conftest import metadata_dict


@pytest.mark.parametrize("layout", ["stack", "files"])
def test_intensity_to_line_integrals(tmp_path: Path, meta: ScanMetadata, projections: np.ndarray, layout: str) -> None:
    flat = np.full((8, 10), 60000, np.uint16)
    dark = np.full((2, 8, 10), 100, np.uint16)
    write_scan(tmp_path, meta, projections, flat=flat, dark=dark, layout=layout)
    scan = read_scan(tmp_path)
    expected = -np.log((projections.astype(np.float64) - 100) / (60000 - 100))
    assert scan.line_integrals.dtype == np.float32
    np.testing.assert_allclose(scan.line_integrals, expected, rtol=1e-5)
    assert read_metadata(tmp_path) == meta


def test_zero_and_saturated_pixels_stay_finite(tmp_path: Path, meta: ScanMetadata, projections: np.ndarray) -> None:
    projections[0, 0, 0] = 0
    projections[1, 2, 3] = 65535
    write_scan(tmp_path, meta, projections, flat=np.full((8, 10), 60000, np.uint16))
    scan = read_scan(tmp_path)
    assert np.all(np.isfinite(scan.line_integrals))
    assert scan.line_integrals[0, 0, 0] > 10  # clipped, large but finite
    assert any("saturated" in w for w in scan.warnings)


def test_transmission_and_line_integral_values(tmp_path: Path) -> None:
    for values, stored, expected in [
        ("transmission", np.full((6, 8, 10), 0.5, np.float32), np.log(2.0)),
        ("line_integral", np.full((6, 8, 10), 1.25, np.float32), 1.25),
    ]:
        meta = ScanMetadata.model_validate(metadata_dict(values=values))
        write_scan(tmp_path / values, meta, stored)
        np.testing.assert_allclose(read_scan(tmp_path / values).line_integrals, expected, rtol=1e-6)


def test_zoom_intensity_without_flat_is_rejected(tmp_path: Path, meta: ScanMetadata, projections: np.ndarray) -> None:
    write_scan(tmp_path, meta, projections)
    with pytest.raises(InputError, match="flat.tif: missing"):
        read_scan(tmp_path)


def test_scout_without_flat_falls_back_with_warning(tmp_path: Path, projections: np.ndarray) -> None:
    meta = ScanMetadata.model_validate(metadata_dict(role="scout"))
    write_scan(tmp_path, meta, projections)
    scan = read_scan(tmp_path)
    assert np.all(np.isfinite(scan.line_integrals))
    assert any("I0 estimated" in w for w in scan.warnings)


def test_malformed_json_names_file_and_position(tmp_path: Path) -> None:
    (tmp_path / "scan.json").write_text('{"format_version": 1,,}')
    with pytest.raises(InputError) as caught:
        read_metadata(tmp_path)
    assert "scan.json" in str(caught.value) and "line 1 column" in str(caught.value)


def test_wrong_typed_field_names_field(tmp_path: Path) -> None:
    document = metadata_dict()
    document["geometry"]["source_to_axis_mm"] = "far"
    (tmp_path / "scan.json").write_text(json.dumps(document))
    with pytest.raises(InputError, match=r"scan.json: geometry.source_to_axis_mm"):
        read_metadata(tmp_path)


def test_projection_shape_mismatch_names_file(tmp_path: Path, meta: ScanMetadata) -> None:
    write_metadata(tmp_path, meta)
    write_tiff(tmp_path / "projections.tif", np.zeros((6, 8, 9), np.uint16))
    with pytest.raises(InputError, match=r"projections.tif: page shape \(8, 9\) does not match"):
        read_scan(tmp_path)


def test_page_count_mismatch(tmp_path: Path, meta: ScanMetadata) -> None:
    write_metadata(tmp_path, meta)
    write_tiff(tmp_path / "projections.tif", np.zeros((5, 8, 10), np.uint16))
    with pytest.raises(InputError, match="has 5 pages, geometry.angles_deg says 6"):
        read_scan(tmp_path)


def test_unreadable_tiff(tmp_path: Path, meta: ScanMetadata) -> None:
    write_metadata(tmp_path, meta)
    (tmp_path / "projections.tif").write_bytes(b"this is not a tiff at all, just text")
    with pytest.raises(InputError, match="projections.tif: not a TIFF file"):
        read_scan(tmp_path)


def absurd_tiff(width: int, height: int) -> bytes:
    """A little-endian TIFF whose one IFD claims ``width`` x ``height`` uint16 pixels."""
    entries = [
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 1, 16),
        (259, 3, 1, 1),
        (262, 3, 1, 1),
        (273, 4, 1, 200),
        (277, 3, 1, 1),
        (278, 4, 1, height),
        (279, 4, 1, 16),
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack("<HHII", tag, kind, count, value)
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00" * 64


def test_absurd_header_dimensions_rejected_without_reading(tmp_path: Path, meta: ScanMetadata) -> None:
    write_metadata(tmp_path, meta)
    (tmp_path / "projections.tif").write_bytes(absurd_tiff(200_000, 200_000))
    with pytest.raises(InputError, match="page 0: header claims absurd dimensions"):
        read_scan(tmp_path)


def test_non_finite_float_projections(tmp_path: Path) -> None:
    meta = ScanMetadata.model_validate(metadata_dict(values="line_integral"))
    data = np.ones((6, 8, 10), np.float32)
    data[3, 1, 1] = np.nan
    write_scan(tmp_path, meta, data)
    with pytest.raises(InputError, match="non-finite values \\(first in projection 3\\)"):
        read_scan(tmp_path)


def test_missing_numbered_projection(tmp_path: Path, meta: ScanMetadata, projections: np.ndarray) -> None:
    write_scan(tmp_path, meta, projections, flat=np.full((8, 10), 60000, np.uint16), layout="files")
    (tmp_path / "proj_00004.tif").unlink()
    with pytest.raises(ScoutzoomError, match="5 of 6 projections present"):
        read_scan(tmp_path)
