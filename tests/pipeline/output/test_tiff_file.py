"""The OME-TIFF is compressed, becomes BigTIFF when large, and carries TIFF resolution tags on every page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from pipeline.grid import VolumeGrid
from pipeline.output import volumes


@pytest.mark.parametrize("bigtiff_from_bytes, bigtiff", [(volumes.BIGTIFF_FROM_BYTES, False), (1000, True)])
def test_compressed_bigtiff_with_resolution_tags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bigtiff_from_bytes: int, bigtiff: bool
) -> None:
    monkeypatch.setattr(volumes, "BIGTIFF_FROM_BYTES", bigtiff_from_bytes)  # 2 GiB in a test: lower the threshold
    grid = VolumeGrid.isotropic((3, 64, 48), 0.002)
    volume = np.tile(np.linspace(0, 1, 48, dtype=np.float32), (3, 64, 1))
    path = tmp_path / "v.ome.tif"

    volumes.write_ome_tiff(path, volume, grid)

    with tifffile.TiffFile(path) as tif:
        assert tif.is_bigtiff is bigtiff
        np.testing.assert_array_equal(tif.asarray(), volume)
        for index in range(len(tif.pages)):
            page = tif.pages.get(index, aspage=True)  # a whole page with its tags, as a plain-TIFF reader sees it
            assert page.compression == tifffile.COMPRESSION.ADOBE_DEFLATE
            assert page.tags["ResolutionUnit"].value == tifffile.RESUNIT.CENTIMETER
            x_num, x_den = page.tags["XResolution"].value
            assert x_num / x_den == pytest.approx(5000.0)  # 2 um pixels: 5,000 per cm
    assert path.stat().st_size < volume.nbytes / 2
