"""Heavier registration checks: default settings at 128^3, and a simulated, FDK-reconstructed pair."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.grid import VolumeGrid
from pipeline.register import RegistrationConfig, register_scout_to_zoom
from pipeline.register.frames import displacement_rms_voxels
from pipeline.register.synthetic import make_pair

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("scale", "model"),
    [((1.015, 1.015, 1.015), "similarity"), ((1.02, 0.985, 1.01), "scale_versor")],
    ids=["default-isotropic-scale", "scale-per-axis"],
)
def test_default_settings_at_128_cubed(scale: tuple[float, float, float], model: str) -> None:
    """The defaults fit one scale (a zoom calibration error is isotropic); a scale per axis needs scale_versor."""
    pair = make_pair(
        128,
        ratio=3.0,
        noise=0.03,
        stage_error_mm=(0.064, -0.06, 0.05),
        rotation_deg=(0.6, -1.0, 1.5),
        scale=scale,
        seed=11,
    )
    config = RegistrationConfig(threads=2, **({} if model == "similarity" else {"affine_model": model}))
    registered = register_scout_to_zoom(
        pair.zoom,
        pair.zoom_mask,
        pair.zoom_grid,
        pair.scout,
        pair.scout_mask,
        pair.scout_box_grid,
        config,
        reconstruct_scout=pair.reconstruct_scout,
    )
    rms = displacement_rms_voxels(
        pair.true_zoom_grid_in_scout, registered.result.zoom_grid_in_scout, pair.zoom_mask, stride=2
    )
    assert rms < 0.1


def _grid_rms_voxels(zoom_grid: VolumeGrid, matrix_a: np.ndarray, matrix_b: np.ndarray) -> float:
    index = (
        np.stack(np.meshgrid(*[np.arange(0, n, 2) for n in zoom_grid.shape_xyz], indexing="ij"), -1)
        .reshape(-1, 3)
        .astype(float)
    )
    points = zoom_grid.index_to_physical(index)
    diff = points @ (matrix_a[:, :3] - matrix_b[:, :3]).T + (matrix_a[:, 3] - matrix_b[:, 3])
    return float(np.sqrt(np.mean(np.sum(diff**2, axis=-1))) / zoom_grid.voxel_mm)


def test_simulated_pair_through_fdk(tmp_path: Path) -> None:
    """Simulator -> FDK of both scans -> registration, against truth.json's zoom->scout matrix.

    Found on this pair (96 px detectors): the centre within ~0.1 voxel, but an
    x/y scale ~0.7 % below the truth, hence the looser whole-field bound here.
    Issue 14 traced that bias: not the simulator or FDK geometry (pore
    positions agree to 0.01 voxel, tests/pipeline/reconstruct/test_simulated.py),
    but the interior zoom FDK's smooth in-plane (truncation) bias left in the
    metric data; ``metric_highpass_factor`` now removes most of it.
    """
    simulate = pytest.importorskip("pipeline.simulate")
    from pipeline.acquisition.contract import pair_offset_mm
    from pipeline.acquisition.reader import read_scan
    from pipeline.reconstruct.reconstruct import reconstruct

    zoom_settings = {
        "detector_px": 96,
        "angles": 180,
        "photons": 10000.0,
        "blur_sigma_px": 0.6,
        "objective": "20X",
        "exposure_s": 4.0,
    }
    config = simulate.SimulationConfig.model_validate(
        {
            "seed": 3,
            "truth_volumes": False,
            "remount_rotation_deg": (0.5, -0.8, 1.2),
            "zoom_scale_error": 0.01,
            "scout": {"detector_px": 96, "angles": 180},
            "zoom": zoom_settings,
        }
    )
    truth = simulate.simulate_pair(tmp_path, config)
    scout = read_scan(tmp_path / "pair" / "scout")
    zoom = read_scan(tmp_path / "pair" / "zoom")
    zoom_grid = zoom.meta.native_grid()
    zoom_recon = reconstruct(zoom, zoom_grid)
    scout_box_grid = zoom_grid.with_centre(tuple(pair_offset_mm(scout.meta, zoom.meta)))
    scout_recon = reconstruct(scout, scout_box_grid)

    def reconstruct_scout(grid: VolumeGrid) -> tuple[np.ndarray, np.ndarray]:
        found = reconstruct(scout, grid)
        return found.volume, found.mask

    registered = register_scout_to_zoom(
        zoom_recon.volume,
        zoom_recon.mask,
        zoom_grid,
        scout_recon.volume,
        scout_recon.mask,
        scout_box_grid,
        RegistrationConfig(threads=2, metric_samples=20_000),
        reconstruct_scout=reconstruct_scout,
    )
    result = registered.result
    true_matrix = np.asarray(truth.zoom_to_scout)
    centre_error_voxels = (
        np.linalg.norm(np.asarray(result.zoom_centre_in_scout_mm) - true_matrix[:, 3]) / zoom_grid.voxel_mm
    )
    assert centre_error_voxels < 0.25
    assert _grid_rms_voxels(zoom_grid, result.matrix, true_matrix) < 0.5
    assert result.ncc_after > result.ncc_before
