"""Nikon .xtekct + TIFF projections, written with configparser and tifffile."""

from __future__ import annotations

import numpy as np
import pytest

from models.errors import InputError
from pipeline.acquisition.formats import nikon
from tests.pipeline.acquisition.formats.conftest import ANGLES, COLUMNS, ROWS
from tests.pipeline.acquisition.formats.nikon_files import WHITE, write_xtekct


@pytest.fixture
def nikon_counts(line_integrals) -> np.ndarray:
    """Counts as the Nikon detector stores them: column 0 at +x (ours reversed)."""
    return np.round(WHITE * np.exp(-line_integrals[..., ::-1])).astype(np.uint16)


def test_geometry_angles_and_conditions(tmp_path, nikon_counts) -> None:
    meta = nikon.read_xtekct_metadata(write_xtekct(tmp_path, nikon_counts), role="scout")
    g = meta.geometry
    assert (g.source_to_axis_mm, g.source_to_detector_mm, g.detector_shape) == (20.0, 200.0, (ROWS, COLUMNS))
    assert g.detector_pixel_mm == (0.1, 0.1)
    np.testing.assert_allclose(g.detector_offset_px, [0.0, 1.25], atol=1e-9)  # axis at x = +0.0125 mm -> +1.25 columns
    np.testing.assert_allclose(g.angles(), 180.0 - 30.0 * np.arange(ANGLES))
    assert meta.sample_id == "foam" and meta.sample_position_mm == (0.0, 0.0, 0.0)
    assert (meta.conditions.voltage_kv, meta.conditions.current_ua, meta.conditions.filter) == (
        80.0,
        87.0,
        "Copper 0.5 mm",
    )


def test_projections_are_counts_over_white_level_in_our_column_order(tmp_path, nikon_counts, line_integrals) -> None:
    scan = nikon.read_xtekct(write_xtekct(tmp_path, nikon_counts), role="zoom")
    np.testing.assert_allclose(scan.line_integrals, line_integrals, atol=2e-4)
    assert scan.warnings == []


def test_centre_of_rotation_fallback_and_reported_offsets(tmp_path, nikon_counts) -> None:
    path = write_xtekct(
        tmp_path,
        nikon_counts,
        ObjectOffsetX=None,
        CentreOfRotationTop=-0.125,
        CentreOfRotationBottom=-0.125,
        DetectorOffsetY=0.05,
        ObjectRoll=0.2,
    )
    warnings: list[str] = []
    meta = nikon.read_xtekct_metadata(path, role="zoom", warnings=warnings)
    np.testing.assert_allclose(meta.geometry.detector_offset_px, [0.5, 1.25], atol=1e-9)
    assert any("DetectorOffsetX/Y" in w for w in warnings) and any("ObjectRoll" in w for w in warnings)


def test_angle_file_wins_and_is_checked(tmp_path, nikon_counts) -> None:
    path = write_xtekct(tmp_path, nikon_counts)
    lines = ["Nikon CT data", "Projection\tAngle(deg)\tTime"] + [
        f"{i + 1}\t{30.0 * i + 0.25:.4f}\t0" for i in range(ANGLES)
    ]
    (tmp_path / "_ctdata.txt").write_text("\n".join(lines) + "\n")
    meta = nikon.read_xtekct_metadata(path, role="zoom")
    np.testing.assert_allclose(meta.geometry.angles(), 180.0 - (30.0 * np.arange(ANGLES) + 0.25))
    (tmp_path / "_ctdata.txt").write_text("\n".join(lines[:-2]) + "\n")
    with pytest.raises(InputError, match=r"_ctdata.txt: lists 10 projections, the xtekct says 12"):
        nikon.read_xtekct_metadata(path, role="zoom")


def test_dot_ang_file(tmp_path, nikon_counts) -> None:
    path = write_xtekct(tmp_path, nikon_counts)
    (tmp_path / "foam.ang").write_text(
        "Projection: Angle\n" + "".join(f"{i + 1}: {30.0 * i:.3f}\n" for i in range(ANGLES))
    )
    np.testing.assert_allclose(
        nikon.read_xtekct_metadata(path, role="zoom").geometry.angles(), 180.0 - 30.0 * np.arange(ANGLES)
    )


@pytest.mark.parametrize(
    ("keys", "fragment"),
    [
        ({"SrcToObject": None}, "[XTekCT] SrcToObject missing"),
        ({"AngularStep": "fast"}, "[XTekCT] AngularStep = 'fast' is not a number"),
        ({"Projections": 2.5}, "[XTekCT] Projections = 2.5 is not a positive integer"),
        ({"SrcToDetector": 10.0}, "must be positive and below SrcToDetector"),
        ({"DetectorPixelsX": COLUMNS + 1}, "shape (6, 8), DetectorPixelsY/X say (6, 9)"),
    ],
)
def test_bad_keys_name_the_file_and_key(tmp_path, nikon_counts, keys, fragment) -> None:
    path = write_xtekct(tmp_path, nikon_counts, **keys)
    with pytest.raises(InputError) as caught:
        nikon.read_xtekct(path, role="zoom")
    assert fragment in str(caught.value)


def test_missing_projection_and_non_ini_file(tmp_path, nikon_counts) -> None:
    path = write_xtekct(tmp_path, nikon_counts)
    (tmp_path / "foam_0005.tif").unlink()
    with pytest.raises(InputError, match="11 of 12 projection TIFFs found"):
        nikon.read_xtekct(path, role="zoom")
    broken = tmp_path / "broken.xtekct"
    broken.write_text("Name=foam\n")
    with pytest.raises(InputError, match="broken.xtekct"):
        nikon.read_xtekct_metadata(broken, role="zoom")
