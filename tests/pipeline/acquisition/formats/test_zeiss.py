"""ZEISS .txrm/.txm read from compound files with the real stream names (written by an MS-CFB writer)."""

from __future__ import annotations

import numpy as np
import pytest

from models.errors import InputError
from pipeline.acquisition.formats import zeiss
from pipeline.acquisition.formats.ole import structure_problems
from pipeline.acquisition.volume_files import read_volume_file
from tests.pipeline.acquisition.formats.conftest import counts
from tests.pipeline.acquisition.formats.zeiss_files import write_txm, write_txrm


@pytest.fixture
def txrm(tmp_path, reference_meta, line_integrals, flat):
    return write_txrm(tmp_path / "zoom.txrm", reference_meta, counts(line_integrals, flat), flat)


def test_metadata_maps_onto_the_contract(txrm, reference_meta) -> None:
    meta = zeiss.read_txrm_metadata(txrm, role="zoom", sample_id="foam-0007")
    g, want = meta.geometry, reference_meta.geometry
    assert g.source_to_axis_mm == pytest.approx(want.source_to_axis_mm, rel=1e-6)
    assert g.source_to_detector_mm == pytest.approx(want.source_to_detector_mm, rel=1e-6)
    assert g.detector_shape == want.detector_shape
    np.testing.assert_allclose(g.detector_pixel_mm, want.detector_pixel_mm, rtol=1e-6)
    np.testing.assert_allclose(g.detector_offset_px, want.detector_offset_px, atol=1e-6)
    np.testing.assert_allclose(g.angles(), want.angles(), atol=1e-4)
    np.testing.assert_allclose(meta.sample_position_mm, reference_meta.sample_position_mm, atol=1e-6)
    assert meta.voxel_mm == pytest.approx(reference_meta.voxel_mm, rel=1e-6)
    c = meta.conditions
    assert (c.voltage_kv, c.current_ua, c.filter, c.objective, c.binning) == (80.0, 87.0, "LE2", "4X", 2)
    assert c.exposure_s == pytest.approx(1.5) and c.model_extra["power_w"] == pytest.approx(7.0)
    assert meta.model_extra["source_format"] == "zeiss-txrm" and meta.values == "intensity"


def test_projections_become_line_integrals_with_the_reference(txrm, line_integrals) -> None:
    scan = zeiss.read_txrm(txrm, role="zoom")
    assert scan.line_integrals.shape == line_integrals.shape and scan.line_integrals.dtype == np.float32
    np.testing.assert_allclose(scan.line_integrals, line_integrals, atol=2e-4)  # uint16 rounding of ~6000-40000 counts
    assert scan.warnings == []


def test_alignment_shifts_are_applied_and_reported(tmp_path, reference_meta, line_integrals, flat) -> None:
    shifts = np.zeros(reference_meta.geometry.n_angles, "<f4")
    shifts[3] = 1.0
    path = write_txrm(
        tmp_path / "s.txrm",
        reference_meta,
        counts(line_integrals, flat),
        flat,
        **{"Alignment__X-Shifts": shifts.tobytes()},
    )
    scan = zeiss.read_txrm(path, role="zoom")
    assert any("alignment shifts applied" in w for w in scan.warnings)
    unshifted = zeiss.read_txrm(
        write_txrm(tmp_path / "u.txrm", reference_meta, counts(line_integrals, flat), flat), role="zoom"
    )
    # +1 column: column c of the shifted image shows column c - 1 of the original (CIL's roll direction)
    np.testing.assert_allclose(scan.line_integrals[3, :, 1:], unshifted.line_integrals[3, :, :-1], atol=0.05)
    np.testing.assert_array_equal(scan.line_integrals[2], unshifted.line_integrals[2])


@pytest.mark.parametrize(
    ("stream", "value", "fragment"),
    [
        ("ImageInfo__StoRADistance", None, "stream ImageInfo/StoRADistance missing"),
        ("ImageInfo__XrayGeometry", np.asarray([0], "<i4").tobytes(), "parallel beam"),
        ("ImageInfo__AcquisitionMode", np.asarray([1], "<i4").tobytes(), "not a projection series"),
        ("ImageInfo__DataType", np.asarray([3], "<i4").tobytes(), "unsupported image data type 3"),
        ("ImageInfo__Angles", np.zeros(3, "<f4").tobytes(), "stream ImageInfo/Angles holds 3 values"),
        ("ImageInfo__StoRADistance", np.full(12, -20000.0, "<f4").tobytes(), "not in mm"),
        ("ImageData1__Image5", b"\x00" * 10, "stream ImageData1/Image5 holds 5 values"),
        ("ReferenceData__Image", None, "stream ReferenceData/Image missing"),
    ],
)
def test_bad_files_name_the_file_and_the_stream(
    tmp_path, reference_meta, line_integrals, flat, stream, value, fragment
) -> None:
    path = write_txrm(tmp_path / "bad.txrm", reference_meta, counts(line_integrals, flat), flat, **{stream: value})
    with pytest.raises(InputError) as caught:
        zeiss.read_txrm(path, role="zoom")
    assert fragment in str(caught.value) and "bad.txrm" in str(caught.value)


def test_a_scout_without_reference_falls_back_with_a_warning(tmp_path, reference_meta, line_integrals, flat) -> None:
    path = write_txrm(tmp_path / "scout.txrm", reference_meta, counts(line_integrals, flat), None)
    scan = zeiss.read_txrm(path, role="scout")
    assert any("no flat field" in w for w in scan.warnings)


def test_truncated_and_non_ole_files_are_refused(tmp_path, txrm) -> None:
    data = txrm.read_bytes()
    cut = tmp_path / "cut.txrm"
    cut.write_bytes(data[: len(data) - 2048])
    assert structure_problems(txrm) == []
    assert any("still being written" in p or "beyond the end" in p for p in structure_problems(cut))
    with pytest.raises(InputError, match="cut.txrm"):
        zeiss.read_txrm(cut, role="zoom")
    text = tmp_path / "notes.txrm"
    text.write_text("not a compound file")
    with pytest.raises(InputError, match="not an OLE2 compound file"):
        zeiss.read_txrm(text, role="zoom")
    assert structure_problems(text) == ["no compound-file header yet"]


def test_images_written_counts_what_the_scanner_has_stored(tmp_path, reference_meta, line_integrals, flat) -> None:
    path = write_txrm(
        tmp_path / "busy.txrm",
        reference_meta,
        counts(line_integrals, flat),
        flat,
        ImageInfo__ImagesTaken=np.asarray([5], "<u4").tobytes(),
    )
    assert zeiss.images_written(path) == (5, reference_meta.geometry.n_angles)
    with pytest.raises(InputError, match="ImagesTaken: 5 of 12 images written"):
        zeiss.read_txrm(path, role="zoom")


def test_txm_volume_and_its_metadata(tmp_path) -> None:
    volume = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    path = write_txm(tmp_path / "scout.txm", volume, voxel_um=12.5, position_um=(100.0, -50.0, 20.0))
    stored = read_volume_file(path)
    np.testing.assert_array_equal(stored.data, volume)
    assert stored.voxel_zyx_mm == pytest.approx((0.0125,) * 3)
    meta = zeiss.read_txm_metadata(path, role="scout")
    assert meta.data == "volume" and meta.volume.file == "scout.txm" and meta.sample_id == "scout"
    np.testing.assert_allclose(meta.sample_position_mm, [-0.1, -0.02, 0.05], atol=1e-7)
    assert meta.conditions.voltage_kv == 60.0
