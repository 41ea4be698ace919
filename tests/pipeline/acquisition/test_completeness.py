"""Completeness: never call a half-written scan complete; stay cheap."""

from __future__ import annotations

import shutil
from pathlib import Path
from unittest import mock

import numpy as np

from pipeline.acquisition import completeness
from pipeline.acquisition.completeness import HeaderCache, check_pair, check_scan, find_pairs, pair_fingerprint
from pipeline.acquisition.contract import ScanMetadata
from pipeline.acquisition.writer import write_metadata, write_projection, write_scan, write_tiff

FLAT = np.full((8, 10), 60000, np.uint16)


def test_missing_scan_json(tmp_path: Path) -> None:
    (tmp_path / "zoom").mkdir()
    result = check_scan(tmp_path / "zoom")
    assert not result.complete
    assert str(result) == "incomplete: zoom/scan.json: missing"


def test_written_projection_by_projection(tmp_path: Path, meta: ScanMetadata, projections: np.ndarray) -> None:
    scan_dir = tmp_path / "zoom"
    write_metadata(scan_dir, meta)
    write_tiff(scan_dir / "flat.tif", FLAT)
    cache = HeaderCache()
    for index, projection in enumerate(projections):
        result = check_scan(scan_dir, cache)
        assert not result.complete
        assert f"{index} of 6 projections" in str(result)
        write_projection(scan_dir, index, projection)
    assert check_scan(scan_dir, cache).complete


def test_truncated_last_file(tmp_path: Path, meta: ScanMetadata, projections: np.ndarray) -> None:
    write_scan(tmp_path, meta, projections, flat=FLAT, layout="files")
    last = tmp_path / "proj_00005.tif"
    last.write_bytes(last.read_bytes()[:-40])
    assert str(check_scan(tmp_path)) == "incomplete: " + tmp_path.name + ": projection 5 (proj_00005.tif) truncated"


def test_truncated_stack(tmp_path: Path, meta: ScanMetadata, projections: np.ndarray) -> None:
    write_scan(tmp_path, meta, projections, flat=FLAT)
    stack = tmp_path / "projections.tif"
    stack.write_bytes(stack.read_bytes()[:-100])
    assert not check_scan(tmp_path).complete


def test_shape_mismatch(tmp_path: Path, meta: ScanMetadata) -> None:
    write_metadata(tmp_path, meta)
    write_tiff(tmp_path / "flat.tif", FLAT)
    write_tiff(tmp_path / "projections.tif", np.zeros((6, 8, 9), np.uint16))
    assert "does not match detector_shape" in str(check_scan(tmp_path))


def test_temporary_files_are_not_projections(tmp_path: Path, meta: ScanMetadata, projections: np.ndarray) -> None:
    write_scan(tmp_path, meta, projections, flat=FLAT, layout="files")
    (tmp_path / "proj_00005.tif").rename(tmp_path / ".proj_00005.tif.tmp-abc")
    assert "5 of 6 projections" in str(check_scan(tmp_path))


def test_unchanged_files_are_not_reinspected(tmp_path: Path, meta: ScanMetadata, projections: np.ndarray) -> None:
    write_scan(tmp_path, meta, projections, flat=FLAT, layout="files")
    cache = HeaderCache()
    assert check_scan(tmp_path, cache).complete
    with mock.patch.object(completeness, "inspect_tiff", side_effect=AssertionError("re-read")):
        assert check_scan(tmp_path, cache).complete


def test_pair_and_discovery_and_fingerprint(tmp_path: Path, meta: ScanMetadata, projections: np.ndarray) -> None:
    pair = tmp_path / "lab" / "sample-1"
    scout_meta = meta.model_copy(update={"role": "scout"})
    write_scan(pair / "scout", scout_meta, projections, flat=FLAT)
    assert "zoom/ missing" in str(check_pair(pair))
    write_scan(pair / "zoom", meta, projections, flat=FLAT)
    assert check_pair(pair).complete
    assert find_pairs(tmp_path) == [pair]
    before = pair_fingerprint(pair)
    assert pair_fingerprint(pair) == before
    shutil.copy(pair / "zoom" / "flat.tif", pair / "zoom" / "dark.tif")
    assert pair_fingerprint(pair) != before
