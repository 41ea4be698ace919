"""Simulator projector vs FDK geometry: noiseless pore centroids sit at the true pore centres (scale within 0.1 %)."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.measure import label, regionprops

from pipeline.acquisition.scan import Scan
from pipeline.reconstruct.reconstruct import reconstruct
from pipeline.simulate import SimulationConfig, generate_phantom, project_phantom
from pipeline.simulate.geometry import pair_geometry

pytestmark = pytest.mark.slow


def _scales(volume: np.ndarray, grid, centres: np.ndarray, radii: np.ndarray, mu: float) -> np.ndarray:
    found, true = [], []
    for region in regionprops(label(volume < 0.5 * mu)):
        box = region.bbox
        if region.area < 20 or not all(box[i] > 0 and box[i + 3] < volume.shape[i] for i in range(3)):
            continue
        z, y, x = region.centroid
        point = grid.index_to_physical(np.array([x, y, z]))
        distance = np.linalg.norm(centres - point, axis=1)
        nearest = int(np.argmin(distance))
        if distance[nearest] < 0.3 * radii[nearest]:
            found.append(point)
            true.append(centres[nearest])
    found_a, true_a = np.asarray(found), np.asarray(true)
    assert len(found_a) >= 40
    return np.array([np.polyfit(true_a[:, a], found_a[:, a], 1)[0] for a in range(3)])


@pytest.mark.parametrize("zoom_by", ["geometry", "objective"])
def test_pore_centroid_scale_scout_and_zoom(zoom_by: str) -> None:
    config = SimulationConfig.model_validate(
        {
            "seed": 1,
            "zoom_by": zoom_by,
            "stage_error_mm": 0.0,
            "phantom": {"pores": 1500, "min_pore_diameter_mm": 0.05, "max_pore_diameter_mm": 0.2},
            "scout": {"detector_px": 96, "angles": 120, "blur_sigma_px": 0.0},
            "zoom": {"detector_px": 96, "angles": 120, "blur_sigma_px": 0.0},
        }
    )
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(1).spawn(6)]
    phantom = generate_phantom(config.phantom, streams[0])
    geometry = pair_geometry(config, streams[1])
    centres, radii = phantom.pore_arrays()
    for meta in (geometry.scout, geometry.zoom_true):
        grid = meta.native_grid()
        volume = reconstruct(Scan(meta=meta, line_integrals=project_phantom(phantom, meta, supersample=2)), grid).volume
        scales = _scales(volume, grid, centres - np.asarray(meta.sample_position_mm), radii, phantom.mu_per_mm)
        assert np.all(np.abs(scales - 1.0) < 1e-3), (meta.role, scales)
