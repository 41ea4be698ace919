"""simulate_pair: contract v1 output, truth consistent with the data, determinism."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from models.errors import InputError
from pipeline.acquisition.reader import read_metadata, read_scan
from pipeline.simulate import SimulationTruth, load_truth, project_phantom, read_truth_volume, simulate_pair
from pipeline.simulate.detector import beam_profile
from pipeline.simulate.phantom import Cylinder, Phantom, Pore

from .conftest import tiny_config


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_writes_a_ready_contract_v1_pair(tiny_pair: tuple[Path, SimulationTruth]) -> None:
    out, truth = tiny_pair
    assert (out / "pair" / "READY").exists()
    scout, zoom = read_scan(out / "pair" / "scout"), read_scan(out / "pair" / "zoom")
    assert scout.warnings == [] and zoom.warnings == []
    assert (scout.meta.role, zoom.meta.role) == ("scout", "zoom")
    assert scout.meta.values == zoom.meta.values == "intensity"
    assert scout.meta.voxel_mm / zoom.meta.voxel_mm == pytest.approx(truth.ratio)
    assert zoom.meta.geometry.magnification / scout.meta.geometry.magnification == pytest.approx(truth.ratio)
    assert (scout.meta.conditions.objective, zoom.meta.conditions.objective) == ("4X", "20X")
    # scout: air around the sample at every angle; zoom: interior, sample everywhere
    assert np.abs(scout.line_integrals[:, :, :2]).mean() < 0.05
    assert scout.line_integrals[:, 16, 16].mean() > 0.8
    assert zoom.line_integrals.min(axis=(1, 2)).mean() > 0.2


def test_recorded_zoom_position_carries_the_stage_error(tiny_pair: tuple[Path, SimulationTruth]) -> None:
    out, truth = tiny_pair
    recorded = np.asarray(read_metadata(out / "pair" / "zoom").sample_position_mm)
    true = np.asarray(truth.zoom_position_true_mm)
    assert recorded == pytest.approx(truth.zoom_position_recorded_mm)
    assert np.linalg.norm(recorded - true) == pytest.approx(3 * truth.zoom_voxel_true_mm)  # default: 3 zoom voxels
    assert np.hypot(true[0], true[1]) == pytest.approx(0.3 * truth.config.phantom.radius_mm)
    assert true[2] == pytest.approx(0.1 * truth.config.phantom.height_mm)
    # no remount, no scale error: the mapping is the true offset
    assert np.asarray(truth.zoom_to_scout) == pytest.approx(np.hstack([np.eye(3), true[:, None]]))


def test_truth_files_load(tiny_pair: tuple[Path, SimulationTruth]) -> None:
    out, truth = tiny_pair
    loaded, phantom = load_truth(out / "truth")
    assert loaded == truth
    assert len(phantom.pores) == truth.n_pores == 150
    for name in ("scout", "zoom", "context"):
        volume = read_truth_volume(out / "truth", name)
        assert volume.shape == getattr(truth.grids, name).shape_zyx
        assert volume.dtype == np.float32
    zoom, context = truth.grids.zoom, truth.grids.context
    # the context extends the zoom lattice: the zoom centre falls on a whole context index
    index = context.physical_to_index(np.asarray(zoom.centre_mm)) - (np.asarray(zoom.shape_xyz) - 1) / 2
    assert index == pytest.approx(np.round(index), abs=1e-6)
    assert all(c >= z for c, z in zip(context.shape_xyz, zoom.shape_xyz)) or context.n_voxels > zoom.n_voxels


def test_missing_truth_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="truth.json"):
        load_truth(tmp_path)


def test_noise_is_poisson_at_the_configured_dose(tmp_path: Path) -> None:
    config = tiny_config(
        seed=3,
        truth_volumes=False,
        flat_frames=0,
        read_noise_counts=0.0,
        zoom={"detector_px": 32, "angles": 24, "blur_sigma_px": 0.0},
    )
    truth = simulate_pair(tmp_path, config)
    scan = read_scan(tmp_path / "pair" / "zoom")
    _, phantom = load_truth(tmp_path / "truth")
    true_meta = scan.meta.model_copy(update={"sample_position_mm": truth.zoom_position_true_mm})
    clean = project_phantom(phantom, true_meta, supersample=config.projection_supersample).astype(np.float64)
    counts = config.zoom.photons * beam_profile(32, 32, config.flat_falloff)[None] * np.exp(-clean)
    z = (scan.line_integrals - clean) * np.sqrt(counts)  # delta(-ln I) ~ N(0, 1/I) for Poisson counts
    assert abs(z.mean()) < 0.05
    assert z.std() == pytest.approx(1.0, abs=0.06)


def test_remount_and_scale_error_mapping_predicts_the_data(tmp_path: Path) -> None:
    config = tiny_config(seed=4, truth_volumes=False, remount_rotation_deg=(1.5, -1.0, 2.0), zoom_scale_error=0.02)
    truth = simulate_pair(tmp_path, config)
    recorded = read_metadata(tmp_path / "pair" / "zoom")
    assert recorded.geometry.source_to_axis_mm == pytest.approx(1.02 * truth.zoom_source_to_axis_true_mm)
    # a pore near the zoom centre, projected with the TRUE pose and geometry ...
    p = np.asarray(truth.zoom_position_true_mm) + [0.05, -0.03, 0.02]
    sample = Phantom(
        cylinder=Cylinder(radius_mm=1.0, height_mm=2.0), mu_per_mm=1.0, pores=[Pore(centre_mm=tuple(p), radius_mm=0.15)]
    )
    empty = Phantom(cylinder=Cylinder(radius_mm=1.0, height_mm=2.0), mu_per_mm=1.0)
    true_meta = recorded.model_copy(
        update={
            "sample_position_mm": truth.zoom_position_true_mm,
            "geometry": recorded.geometry.model_copy(update={"source_to_axis_mm": truth.zoom_source_to_axis_true_mm}),
        }
    )
    rotation = np.asarray(truth.remount_rotation_matrix)
    index = 5
    solid = project_phantom(empty, true_meta, [index], mount_rotation=rotation)
    chord = (solid - project_phantom(sample, true_meta, [index], mount_rotation=rotation))[0].astype(np.float64)
    rows, cols = np.indices(chord.shape)
    # ... lands where the RECORDED geometry puts the zoom-frame point that the truth maps onto p
    matrix = np.asarray(truth.zoom_to_scout)
    x_zoom = np.linalg.solve(matrix[:, :3], p - matrix[:, 3])
    theta = math.radians(recorded.geometry.angles()[index])
    x, y, z = (
        np.array([[math.cos(theta), -math.sin(theta), 0], [math.sin(theta), math.cos(theta), 0], [0, 0, 1]]) @ x_zoom
    )
    g = recorded.geometry
    scale = g.source_to_detector_mm / (g.source_to_axis_mm + y) / g.detector_pixel_mm[0]
    assert (rows * chord).sum() / chord.sum() == pytest.approx((g.rows - 1) / 2 - z * scale, abs=0.05)
    assert (cols * chord).sum() / chord.sum() == pytest.approx((g.columns - 1) / 2 + x * scale, abs=0.05)
    # and the truth zoom grid is the zoom reconstruction grid carried by that mapping
    corners = truth.grids.zoom_recon.corners_mm()
    assert truth.map_zoom_to_scout(corners) == pytest.approx(truth.grids.zoom.corners_mm(), abs=1e-9)


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path, tiny_pair: tuple[Path, SimulationTruth]) -> None:
    reference, _ = tiny_pair
    again, other = tmp_path / "again", tmp_path / "other"
    simulate_pair(again, tiny_config(seed=7))
    simulate_pair(other, tiny_config(seed=8))
    assert _files(again) == _files(reference)
    different = _files(other)
    for name in ("pair/scout/projections.tif", "pair/zoom/projections.tif", "truth/phantom.json", "truth/scout.tif"):
        assert different[name] != _files(reference)[name]


def test_refuses_to_overwrite_unless_asked(tmp_path: Path) -> None:
    config = tiny_config(
        truth_volumes=False, scout={"detector_px": 32, "angles": 4}, zoom={"detector_px": 32, "angles": 4}
    )
    simulate_pair(tmp_path, config)
    with pytest.raises(InputError, match="not empty"):
        simulate_pair(tmp_path, config)
    simulate_pair(tmp_path, config.model_copy(update={"layout": "files"}), overwrite=True)
    assert not (tmp_path / "pair" / "zoom" / "projections.tif").exists()
    assert (tmp_path / "pair" / "zoom" / "proj_00003.tif").exists()


def test_zoom_by_objective_keeps_distances_and_shrinks_the_pitch() -> None:
    from pipeline.simulate.geometry import pair_geometry

    config = tiny_config(zoom_by="objective", ratio=5.0)
    geometry = pair_geometry(config, np.random.default_rng(0))
    scout, zoom = geometry.scout.geometry, geometry.zoom_recorded.geometry
    assert zoom.source_to_axis_mm == scout.source_to_axis_mm
    assert scout.detector_pixel_mm[1] / zoom.detector_pixel_mm[1] == pytest.approx(5.0)
    assert geometry.scout.voxel_mm / geometry.zoom_recorded.voxel_mm == pytest.approx(5.0)
    # the default voxel of the contract (pitch / magnification) agrees with the recorded one
    assert zoom.detector_pixel_mm[1] / zoom.magnification == pytest.approx(geometry.zoom_recorded.voxel_mm)
