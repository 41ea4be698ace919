"""A contract-v1 scan converted to each vendor format reads back as the same Scan, and reconstructs the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.acquisition.contract import ScanMetadata
from pipeline.acquisition.formats.registry import Source, detect, read_any
from pipeline.acquisition.reader import read_scan
from pipeline.acquisition.volume import read_volume_scan, resample_onto
from pipeline.acquisition.writer import write_scan
from tests.pipeline.acquisition.formats.convert import to_nxtomo, to_txrm, to_xtekct

ROWS, COLUMNS, COUNT = 16, 20, 24


@pytest.fixture(scope="module")
def contract_scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An intensity zoom scan with a column offset, a start angle and a stage position; counts from a smooth object."""
    meta = ScanMetadata.model_validate(
        {
            "format_version": 1,
            "role": "zoom",
            "sample_id": "rt",
            "values": "intensity",
            "geometry": {
                "source_to_axis_mm": 30.0,
                "source_to_detector_mm": 240.0,
                "detector_shape": [ROWS, COLUMNS],
                "detector_pixel_mm": [0.2, 0.2],
                "detector_offset_px": [0.0, -1.5],
                "angles_deg": {"start": 10.0, "step": 15.0, "count": COUNT},
            },
            "sample_position_mm": [0.3, -0.2, 0.1],
            "conditions": {"voltage_kv": 80.0, "current_ua": 87.0},
        }
    )
    a, r, c = np.meshgrid(np.arange(COUNT), np.arange(ROWS), np.arange(COLUMNS), indexing="ij")
    flat = np.full((ROWS, COLUMNS), 30000.0) + 50 * np.arange(COLUMNS)[None]
    dark = np.full((ROWS, COLUMNS), 100.0)
    integrals = 0.8 + 0.5 * np.sin(0.26 * a + 0.3 * c) * np.exp(-(((r - 7.5) / 6) ** 2))
    counts = np.round(dark + (flat - dark) * np.exp(-integrals)).astype(np.uint16)
    folder = tmp_path_factory.mktemp("rt") / "zoom"
    write_scan(folder, meta, counts, flat=flat.astype(np.uint16), dark=dark.astype(np.uint16))
    return folder


CONVERTERS = {
    "zeiss-txrm": lambda scan, out: to_txrm(scan, out / "zoom.txrm"),
    "nikon-xtekct": lambda scan, out: to_xtekct(scan, out / "nikon"),
    "nxtomo": lambda scan, out: to_nxtomo(scan, out / "zoom.nx"),
}


@pytest.mark.parametrize("kind", sorted(CONVERTERS))
def test_each_format_reads_back_as_the_contract_scan(contract_scan, tmp_path, kind) -> None:
    original = read_scan(contract_scan)
    source = detect(CONVERTERS[kind](contract_scan, tmp_path))
    assert source is not None and source.kind == kind
    scan = read_any(source, role="zoom")
    g, want = scan.meta.geometry, original.meta.geometry
    for field in ("source_to_axis_mm", "source_to_detector_mm"):
        assert getattr(g, field) == pytest.approx(getattr(want, field), rel=1e-6)
    assert g.detector_shape == want.detector_shape
    np.testing.assert_allclose(g.detector_pixel_mm, want.detector_pixel_mm, rtol=1e-6)
    np.testing.assert_allclose(g.angles(), want.angles(), atol=1e-4)
    np.testing.assert_allclose(g.detector_offset_px, want.detector_offset_px, atol=1e-5)  # ZEISS, NXtomo: no row offset
    if kind != "nikon-xtekct":  # xtekct stores no stage position
        np.testing.assert_allclose(scan.meta.sample_position_mm, original.meta.sample_position_mm, atol=1e-6)
    assert scan.meta.voxel_mm == pytest.approx(original.meta.voxel_mm, rel=1e-6)
    np.testing.assert_allclose(scan.line_integrals, original.line_integrals, atol=1e-5)


@pytest.mark.slow  # the first FDK of a session compiles the backend (minutes on a busy 2-core machine)
def test_a_converted_scan_reconstructs_like_the_original(contract_scan, tmp_path) -> None:
    from pipeline.reconstruct.reconstruct import ReconConfig, reconstruct

    original = read_scan(contract_scan)
    converted = read_any(Source("zeiss-txrm", to_txrm(contract_scan, tmp_path / "z.txrm")), role="zoom")
    grid = original.meta.native_grid()
    config = ReconConfig()
    a = reconstruct(original, grid, config)
    b = reconstruct(converted, grid, config)
    np.testing.assert_allclose(b.volume, a.volume, atol=1e-4 * float(np.abs(a.volume).max()))
    np.testing.assert_array_equal(b.mask, a.mask)


def test_a_volume_written_as_ome_tiff_is_a_volume_scan_on_the_same_grid(contract_scan, tmp_path) -> None:
    """What a lab holding reconstructions has: our OME-TIFF output (or any) of a scan's native grid."""
    import json
    from types import SimpleNamespace

    from pipeline.output.volumes import write_ome_tiff

    original = read_scan(contract_scan)
    grid = original.meta.native_grid()
    z, y, x = np.meshgrid(*(np.linspace(0, 1, n) for n in grid.shape_zyx), indexing="ij")
    fdk = SimpleNamespace(volume=(np.sin(6 * x) * np.cos(4 * y) + z).astype(np.float32))
    folder = tmp_path / "zoom"
    folder.mkdir()
    write_ome_tiff(folder / "volume.ome.tif", fdk.volume.astype(np.float32), grid)
    (folder / "scan.json").write_text(
        json.dumps(
            {
                "format_version": 1,
                "role": "zoom",
                "data": "volume",
                "sample_id": "rt",
                "volume": {"file": "volume.ome.tif"},
                "sample_position_mm": list(original.meta.sample_position_mm),
            }
        )
    )
    volume_scan = read_volume_scan(folder)
    assert volume_scan.grid == grid
    np.testing.assert_allclose(volume_scan.volume, fdk.volume, rtol=1e-6)
    again = resample_onto(volume_scan, grid)
    np.testing.assert_allclose(again.volume, fdk.volume, atol=1e-5 * float(np.abs(fdk.volume).max()))


@pytest.mark.parametrize("kind", sorted(CONVERTERS))
def test_a_scan_folder_holding_a_vendor_file_is_checked_and_read_as_a_pair_scan(contract_scan, tmp_path, kind) -> None:
    """What ``process`` does with ``zoom/`` holding a .txrm, an .xtekct (+ TIFFs) or an NXtomo file."""
    from pipeline.acquisition.completeness import check_scan
    from pipeline.pair.steps import read_scan_source

    folder = tmp_path / "zoom"
    folder.mkdir()
    written = to_xtekct(contract_scan, folder) if kind == "nikon-xtekct" else CONVERTERS[kind](contract_scan, folder)
    assert check_scan(folder).complete, check_scan(folder).reasons
    scan = read_scan_source(folder, "zoom")
    np.testing.assert_allclose(scan.line_integrals, read_scan(contract_scan).line_integrals, atol=1e-4)
    if kind == "zeiss-txrm":  # a compound file cut short (still being written) is not complete
        data = written.read_bytes()
        written.write_bytes(data[: len(data) // 2])
        assert not check_scan(folder).complete
