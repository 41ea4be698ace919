"""OME-Zarr output: written slab by slab, read back by ome-zarr's reader (what napari-ome-zarr uses) with the right
scale, translation, pyramid and mask label."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.grid import VolumeGrid
from pipeline.output.zarr_volume import OmeZarrVolume, pyramid_levels

ome_zarr = pytest.importorskip("ome_zarr")


@pytest.fixture()
def grid() -> VolumeGrid:
    return VolumeGrid(shape_zyx=(20, 72, 80), spacing_mm=(0.01, 0.01, 0.01), centre_mm=(0.5, -0.25, 1.0))


def _write(path: Path, grid: VolumeGrid, volume: np.ndarray, mask: np.ndarray) -> Path:
    out = OmeZarrVolume(path, grid, chunk_z=4)
    for z0 in range(0, volume.shape[0], 6):  # slabs that do not line up with the chunks, as inference writes them
        out[z0 : z0 + 6] = volume[z0 : z0 + 6]
    assert not path.exists()  # only the temporary name exists until finished
    return out.finish(mask=mask, attributes={"model_id": "m-1", "value_unit": "1/mm"})


def test_written_by_slabs_and_read_back_as_napari_reads_it(tmp_path: Path, grid: VolumeGrid) -> None:
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    volume = np.random.default_rng(0).normal(1.0, 0.1, grid.shape_zyx).astype(np.float32)
    mask = np.zeros(grid.shape_zyx, bool)
    mask[:, 10:60, 10:70] = True
    path = _write(tmp_path / "recovered.ome.zarr", grid, volume, mask)

    nodes = list(Reader(parse_url(str(path)))())
    image = nodes[0]
    levels = image.data
    assert len(levels) == pyramid_levels(grid.shape_zyx) >= 2
    np.testing.assert_array_equal(np.asarray(levels[0]), volume)
    np.testing.assert_allclose(np.asarray(levels[1])[3, 5, 7], volume[6:8, 10:12, 14:16].mean(), rtol=1e-5)
    transforms = image.metadata["coordinateTransformations"]
    scale0 = next(t for t in transforms[0] if t["type"] == "scale")["scale"]
    shift0 = next(t for t in transforms[0] if t["type"] == "translation")["translation"]
    assert scale0 == pytest.approx([0.01, 0.01, 0.01])
    assert shift0 == pytest.approx(list(grid.origin_mm[::-1]))  # z, y, x of voxel [0, 0, 0]'s centre
    shift1 = next(t for t in transforms[1] if t["type"] == "translation")["translation"]
    assert shift1 == pytest.approx(list(np.asarray(grid.origin_mm[::-1]) + 0.005))
    assert [a["name"] for a in image.metadata["axes"]] == ["z", "y", "x"]

    import zarr

    root = zarr.open_group(str(path), mode="r")
    assert root.attrs["scoutzoom"]["model_id"] == "m-1"
    np.testing.assert_array_equal(np.asarray(root["labels/mask/0"]).astype(bool), mask)
    assert root["labels/mask"].attrs["image-label"]["colors"][0]["label-value"] == 1


def test_pyramid_stops_before_tiny_levels() -> None:
    assert pyramid_levels((512, 2048, 2048)) == 7  # 2048 / 2**6 = 32
    assert pyramid_levels((8, 40, 40)) == 1
    assert pyramid_levels((64, 256, 256), wanted=2) == 2
