"""A volume scout (reconstructed elsewhere, given as OME-TIFF) registers onto the zoom like the FDK scout.

The recipe :mod:`pipeline.pair.run` needs for a volume scout: the scout box and
the registered scout come from :func:`resample_onto` instead of FDK.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.acquisition.contract import pair_offset_mm
from pipeline.acquisition.volume import read_volume_scan, resample_onto
from pipeline.output.volumes import write_ome_tiff


@pytest.mark.slow  # two 64-pixel FDKs, a registration each way (the first FDK compiles the backend)
def test_volume_scout_registers_like_the_fdk_scout(tmp_path) -> None:
    from pipeline.pair import steps
    from pipeline.register import register_scout_to_zoom
    from pipeline.simulate import simulate_pair
    from tests.pipeline.pair.conftest import fast_config, small_simulation

    simulate_pair(tmp_path / "sim", small_simulation(11))
    config = fast_config()
    scans = steps.read_pair(tmp_path / "sim" / "pair")
    zoom_grid = steps.zoom_native_grid(scans.zoom)
    zoom = steps.reconstruct_on(scans.zoom, zoom_grid, config, interior=True)
    box_grid = steps.scout_box_grid(scans, zoom_grid)

    def fdk(grid):
        result = steps.reconstruct_on(scans.scout, grid, config)
        return result.volume, result.mask

    box = steps.reconstruct_on(scans.scout, box_grid, config)
    by_fdk = register_scout_to_zoom(
        zoom.volume, zoom.mask, zoom.grid, box.volume, box.mask, box.grid, config.registration, reconstruct_scout=fdk
    )

    native_grid = scans.scout.meta.native_grid()
    native = steps.reconstruct_on(scans.scout, native_grid, config)
    folder = tmp_path / "scout_volume"
    folder.mkdir()
    write_ome_tiff(folder / "volume.ome.tif", native.volume.astype(np.float32), native_grid)
    (folder / "scan.json").write_text(
        json.dumps(
            {
                "format_version": 1,
                "role": "scout",
                "data": "volume",
                "sample_id": scans.scout.meta.sample_id,
                "volume": {"file": "volume.ome.tif"},
                "sample_position_mm": list(scans.scout.meta.sample_position_mm),
            }
        )
    )
    scout = read_volume_scan(folder)
    assert scout.native_grid() == native_grid
    np.testing.assert_allclose(
        pair_offset_mm(scout.meta, scans.zoom.meta), pair_offset_mm(scans.scout.meta, scans.zoom.meta)
    )

    def resampled(grid):
        result = resample_onto(scout, grid)
        return result.volume, result.mask

    vbox = resample_onto(scout, box_grid)
    by_volume = register_scout_to_zoom(
        zoom.volume,
        zoom.mask,
        zoom.grid,
        vbox.volume,
        vbox.mask,
        vbox.grid,
        config.registration,
        reconstruct_scout=resampled,
    )
    zoom_voxel = scans.zoom.meta.voxel_mm
    difference = np.subtract(by_volume.result.zoom_centre_in_scout_mm, by_fdk.result.zoom_centre_in_scout_mm)
    # measured (seed 11, 64 px): [-0.0013, 0.0088, -0.0010] zoom voxels; the issue asks for 0.1
    assert np.max(np.abs(difference)) < 0.1 * zoom_voxel, (difference / zoom_voxel).tolist()
    assert by_volume.scout.shape == zoom.volume.shape and by_volume.mask.any()
