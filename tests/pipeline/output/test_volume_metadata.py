"""The recovered volume's OME-TIFF says what its values and pixels measure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from pipeline.grid import VolumeGrid
from pipeline.output.volumes import read_ome_grid, read_value_unit, write_ome_tiff


def test_value_unit_and_resolution_tags(tmp_path: Path) -> None:
    grid = VolumeGrid.isotropic((4, 6, 8), 0.025)
    path = tmp_path / "v.ome.tif"
    write_ome_tiff(path, np.ones((4, 6, 8), np.float32), grid)
    assert read_value_unit(path) == "1/mm"
    assert read_ome_grid(path).shape_zyx == (4, 6, 8)
    with tifffile.TiffFile(path) as tif:
        assert tif.is_ome and 'Namespace="scoutzoom"' in tif.ome_metadata and 'K="value_unit">1/mm<' in tif.ome_metadata
        for page in tif.pages:
            tags = page.tags
            assert tags["ResolutionUnit"].value == tifffile.RESUNIT.CENTIMETER
            for name in ("XResolution", "YResolution"):
                numerator, denominator = tags[name].value
                assert numerator / denominator == pytest.approx(400.0, rel=1e-6)  # 0.025 mm pixels: 400 per cm


def test_a_volume_scans_own_unit_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "v.ome.tif"
    write_ome_tiff(path, np.zeros((2, 4, 5), np.float32), VolumeGrid.isotropic((2, 4, 5), 0.01), value_unit="HU")
    assert read_value_unit(path) == "HU"
