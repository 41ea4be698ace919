"""A uint16 output stores counts with its linear scale recorded: read back, values are within one step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from pipeline.grid import VolumeGrid
from pipeline.output.quantise import LEVELS, choose_scale
from pipeline.output.volumes import read_value_scale, write_ome_tiff
from pipeline.output.zarr_volume import OmeZarrVolume

SHAPE = (12, 80, 72)  # in-plane sides allow a second pyramid level (>= 64 px)


@pytest.fixture(scope="module")
def volume() -> np.ndarray:
    rng = np.random.default_rng(5)
    values = rng.normal(0.8, 0.15, SHAPE).astype(np.float32)
    values[0, 0, :3] = [40.0, -30.0, 25.0]  # three outliers: percentiles must not spend the levels on them
    return values


def test_the_scale_spans_the_robust_range_not_the_outliers(volume: np.ndarray) -> None:
    scale = choose_scale(volume)

    top = scale.offset + LEVELS * scale.scale
    assert scale.offset < np.percentile(volume, 0.01) and top > np.percentile(volume, 99.99)
    assert top - scale.offset < 3.0  # about 1.1 x the 0.01-99.99 % span of N(0.8, 0.15), not the outliers' 70
    assert scale.clipped_fraction is not None and scale.clipped_fraction < 1e-3


def test_ome_tiff_round_trip_within_one_step(tmp_path: Path, volume: np.ndarray) -> None:
    scale = choose_scale(volume)
    path = tmp_path / "v.ome.tif"

    write_ome_tiff(path, volume, VolumeGrid.isotropic(SHAPE, 0.01), value_scale=scale)

    stored = tifffile.imread(path)
    read = read_value_scale(path)
    assert stored.dtype == np.uint16 and read == scale
    decoded = stored * read.scale + read.offset
    inside = (volume >= scale.offset) & (volume <= scale.offset + LEVELS * scale.scale)
    assert inside.mean() > 0.999
    assert np.abs(decoded - volume)[inside].max() <= scale.scale
    with tifffile.TiffFile(path) as tif:
        assert 'K="value_scale">' in tif.ome_metadata


def test_ome_zarr_round_trip_within_one_step(tmp_path: Path, volume: np.ndarray) -> None:
    import zarr

    grid = VolumeGrid.isotropic(SHAPE, 0.01)
    out = OmeZarrVolume(tmp_path / "v.ome.zarr", grid, chunk_z=4, levels=2)
    out[:] = volume
    scale = choose_scale(out)

    out.finish(value_scale=scale)

    root = zarr.open_group(str(tmp_path / "v.ome.zarr"), mode="r")
    recorded = root.attrs["scoutzoom"]["value_scale"]
    assert root["0"].dtype == np.uint16 and root["1"].dtype == np.uint16
    decoded = np.asarray(root["0"]) * recorded["scale"] + recorded["offset"]
    inside = (volume >= scale.offset) & (volume <= scale.offset + LEVELS * scale.scale)
    assert np.abs(decoded - volume)[inside].max() <= scale.scale
    assert np.abs(out[3] - volume[3])[inside[3]].max() <= scale.scale  # the finished volume reads back as values
