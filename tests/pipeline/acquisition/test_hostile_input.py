"""Hostile and odd input: every read bounded in time and memory, errors name the file and never quote it.

Each case reproduces a defect of issue 16 that the old code had (times are on a
loaded 2-core machine; the old code took the figure in the comment).
"""

from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

from models.errors import InputError
from pipeline.acquisition.completeness import check_scan
from pipeline.acquisition.contract import ScanMetadata
from pipeline.acquisition.fingerprint import legacy_fingerprint, pair_fingerprint
from pipeline.acquisition.reader import ReadLimits, read_metadata, read_scan
from pipeline.acquisition.tiffcheck import inspect_tiff
from pipeline.acquisition.writer import write_metadata, write_scan, write_tiff
from tests.pipeline.acquisition.conftest import metadata_dict
from tests.pipeline.acquisition.hostile import chained_tiff, zlib_bomb

FLAT = np.full((8, 10), 60000, np.uint16)


def scan_with(tmp_path: Path, **changes) -> Path:
    document = metadata_dict(**changes)
    write_metadata(tmp_path, ScanMetadata.model_validate(document))
    return tmp_path


def test_a_fifo_named_scan_json_is_refused_at_once(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "scan.json")  # old code: open() blocked forever
    began = time.monotonic()
    with pytest.raises(InputError, match=r"scan.json: is a FIFO, expected a regular file"):
        read_metadata(tmp_path)
    result = check_scan(tmp_path)
    assert time.monotonic() - began < 1.0
    assert "scan.json: is a FIFO" in str(result)


def test_scan_json_linked_to_dev_zero_is_refused(tmp_path: Path) -> None:
    (tmp_path / "scan.json").symlink_to("/dev/zero")  # old code: read forever, MemoryError
    with pytest.raises(InputError, match=r"scan.json: is a character device"):
        read_metadata(tmp_path)


def test_a_huge_scan_json_is_refused_without_reading_it(tmp_path: Path) -> None:
    with open(tmp_path / "scan.json", "wb") as handle:
        handle.truncate(50 << 20)
    with pytest.raises(InputError, match=r"scan.json: is 52428800 bytes, more than the 1048576 allowed"):
        read_metadata(tmp_path)


@pytest.mark.parametrize(
    "text", ['{"recon_voxel_mm": Infinity}', '{"recon_voxel_mm": NaN}', '{"recon_voxel_mm": 1e999}']
)
def test_non_finite_numbers_in_scan_json_are_refused(tmp_path: Path, text: str) -> None:
    (tmp_path / "scan.json").write_text(text)
    with pytest.raises(InputError, match=r"scan.json: non-finite number"):
        read_metadata(tmp_path)


def test_an_ifd_that_points_to_itself_costs_nothing(tmp_path: Path) -> None:
    path = chained_tiff(tmp_path / "projections.tif", 1, loop_to=0)  # old code: 29-91 s of CPU
    began = time.process_time()
    with pytest.raises(InputError, match=r"projections.tif: page directory chain loops \(page 1 is page 0 again\)"):
        inspect_tiff(path)
    assert time.process_time() - began < 0.5


def test_a_longer_ifd_loop_is_found_too(tmp_path: Path) -> None:
    path = chained_tiff(tmp_path / "flat.tif", 5, loop_to=2)
    with pytest.raises(InputError, match=r"page 5 is page 2 again"):
        inspect_tiff(path)


def test_150000_tiny_ifds_stop_at_the_promised_page_count(tmp_path: Path) -> None:
    scan_with(tmp_path)
    write_tiff(tmp_path / "flat.tif", FLAT)
    chained_tiff(tmp_path / "projections.tif", 150_000, columns=10)  # old code: 26 s
    began = time.process_time()
    result = check_scan(tmp_path)
    assert time.process_time() - began < 1.0
    assert "projections.tif: more than 6 pages" in str(result)


def test_flat_with_150000_pages_is_not_walked_in_full(tmp_path: Path) -> None:
    scan_with(tmp_path)
    write_tiff(tmp_path / "projections.tif", np.ones((6, 8, 10), np.uint16))
    chained_tiff(tmp_path / "flat.tif", 150_000, columns=10)
    began = time.process_time()
    result = check_scan(tmp_path)
    assert time.process_time() - began < 1.5
    assert "flat.tif: more than 1000 pages" in str(result)


def test_zlib_bomb_is_refused_from_its_headers(tmp_path: Path) -> None:
    document = metadata_dict(count=8, shape=(8192, 8192), values="line_integral")
    write_metadata(tmp_path, ScanMetadata.model_validate(document))
    zlib_bomb(tmp_path / "projections.tif")  # 8 x 8192^2 uint16 declared; old code: 9.1 GB peak
    assert (tmp_path / "projections.tif").stat().st_size < 100_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    expected = (
        r"projections.tif: 8 projections of \(8192, 8192\) uint16 need about 5120 MiB to read, more than the 1024 MiB"
    )
    with pytest.raises(InputError, match=expected):
        read_scan(tmp_path, ReadLimits(memory_budget_bytes=1 << 30))
    assert "need about 5120 MiB" in str(check_scan(tmp_path, budget_bytes=1 << 30))  # the daemon's check says so first
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 50


def test_nan_in_float32_intensity_projections_names_the_file(tmp_path: Path) -> None:
    meta = ScanMetadata.model_validate(metadata_dict())
    data = np.full((6, 8, 10), 1000.0, np.float32)
    data[4, 2, 2] = np.inf
    write_metadata(tmp_path, meta)
    write_tiff(tmp_path / "flat.tif", FLAT)
    for index in range(6):
        write_tiff(tmp_path / f"proj_{index:05d}.tif", data[index])
    with pytest.raises(InputError, match=r"proj_00004.tif: 1 non-finite values \(first in projection 4\)"):
        read_scan(tmp_path)


def test_tiff_written_as_several_series_reads_as_the_check_counts(tmp_path: Path, projections: np.ndarray) -> None:
    meta = ScanMetadata.model_validate(metadata_dict())
    write_metadata(tmp_path, meta)
    write_tiff(tmp_path / "flat.tif", FLAT)
    with tifffile.TiffWriter(tmp_path / "projections.tif") as tif:  # two series: 3 pages, then 3 pages
        tif.write(projections[:3], photometric="minisblack")
        tif.write(projections[3:], photometric="minisblack")
    assert len(tifffile.TiffFile(tmp_path / "projections.tif").series) == 2
    assert check_scan(tmp_path).complete
    scan = read_scan(tmp_path)  # old code read the first series only: "has 3 pages"
    assert scan.line_integrals.shape == (6, 8, 10)


def test_error_messages_never_quote_file_content(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    (tmp_path / "scan").mkdir()
    scan_with(tmp_path / "scan")
    (tmp_path / "scan" / "projections.tif").symlink_to(secret)
    messages = [str(check_scan(tmp_path / "scan"))]
    with pytest.raises(InputError) as caught:
        read_scan(tmp_path / "scan")
    messages.append(str(caught.value))
    assert all("root:x" not in message and "root" not in message.split("projections.tif")[-1] for message in messages)


def test_links_leaving_the_boundary_are_not_followed(tmp_path: Path, projections: np.ndarray) -> None:
    outside = tmp_path / "outside"
    write_scan(outside, ScanMetadata.model_validate(metadata_dict()), projections, flat=FLAT)
    scan = tmp_path / "root" / "pair" / "zoom"
    scan.mkdir(parents=True)
    for name in ("scan.json", "projections.tif", "flat.tif"):
        (scan / name).symlink_to(outside / name)
    assert check_scan(scan).complete  # links followed when no boundary is given
    result = check_scan(scan, boundary=tmp_path / "root")
    assert "symbolic link leading outside" in str(result)
    with pytest.raises(InputError, match="symbolic link leading outside"):
        read_scan(scan, ReadLimits(boundary=tmp_path / "root"))


def test_preallocated_projection_is_not_complete_until_written(tmp_path: Path, projections: np.ndarray) -> None:
    meta = ScanMetadata.model_validate(metadata_dict())
    write_scan(tmp_path, meta, projections, flat=FLAT, layout="files")
    last = tmp_path / "proj_00005.tif"
    real = last.read_bytes()
    header_end = 8  # tifffile writes the first IFD after the 8-byte header, data after it
    offset = tifffile.TiffFile(last).pages[0].dataoffsets[0]
    last.write_bytes(real[:offset] + b"\0" * (len(real) - offset))  # final size, pixels not written yet
    assert offset > header_end
    assert "projection 5 (proj_00005.tif): data still all zeros" in str(check_scan(tmp_path))
    last.write_bytes(real)
    assert check_scan(tmp_path).complete


def test_fingerprint_sees_same_size_rewrites(tmp_path: Path, projections: np.ndarray) -> None:
    pair = tmp_path / "pair"
    for role in ("scout", "zoom"):
        write_scan(
            pair / role, ScanMetadata.model_validate(metadata_dict(role=role)), projections, flat=FLAT, layout="files"
        )
    before, legacy_before = pair_fingerprint(pair), legacy_fingerprint(pair)
    victim = pair / "zoom" / "proj_00003.tif"
    stat = victim.stat()
    data = bytearray(victim.read_bytes())
    data[-2:] = b"\x07\x07"  # new pixel values, same size
    victim.write_bytes(bytes(data))
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with the old mtime (a copy tool keeping it)
    assert legacy_fingerprint(pair) == legacy_before  # the old fingerprint missed it
    assert pair_fingerprint(pair) != before
    after = pair_fingerprint(pair)
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # re-acquired in place: new mtime
    assert pair_fingerprint(pair) != after


def test_json_scan_reader_reads_real_files_still(tmp_path: Path) -> None:
    (tmp_path / "scan.json").write_text(json.dumps(metadata_dict()))
    assert read_metadata(tmp_path).geometry.detector_shape == (8, 10)
