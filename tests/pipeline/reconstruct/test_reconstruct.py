"""FDK onto arbitrary grids: values, positions, rotated grids, slabs, outputs and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import binary_erosion, map_coordinates
from scipy.spatial.transform import Rotation
from skimage.registration import phase_cross_correlation

from models.errors import Cancelled
from models.events import CancelToken, ProgressEvent
from pipeline.acquisition.scan import Scan
from pipeline.errors import ReconstructionError
from pipeline.grid import VolumeGrid
from pipeline.reconstruct import ReconConfig, reconstruct
from pipeline.reconstruct.backends import fdk_numba, make_backend
from pipeline.reconstruct.filtered import filter_scan
from tests.pipeline.reconstruct.conftest import SPHERE, centroid_mm
from tests.pipeline.reconstruct.phantoms import Cylinder, density, make_meta, make_scan


def test_uniform_cylinder_reconstructs_to_mu(cylinder_scan: Scan) -> None:
    grid = VolumeGrid.isotropic((16, 64, 64), 0.02)
    result = reconstruct(cylinder_scan, grid)
    truth = density([Cylinder((0.0, 0.0, 0.0), 0.45, 20.0, 1.0)], grid.voxel_centres())
    solid = binary_erosion(truth > 0, iterations=2) & result.mask
    air = binary_erosion(truth == 0, iterations=2) & result.mask
    assert abs(result.volume[solid].mean() - 1.0) < 0.01
    assert abs(result.volume[air].mean()) < 0.01
    assert result.backend == make_backend("auto").name and not result.interior and result.volume.dtype == np.float32


def test_off_centre_sphere_lands_at_its_position(sphere_scan: Scan) -> None:
    grid = VolumeGrid.isotropic((24, 24, 24), 0.02, (0.19, -0.14, 0.11))  # the sphere is not at the grid centre
    result = reconstruct(sphere_scan, grid)
    error_vox = (centroid_mm(result.volume, grid, 0.3) - np.asarray(SPHERE.centre_mm)) / 0.02
    assert np.all(np.abs(error_vox) < 0.1), error_vox


def test_rotated_anisotropic_grid_is_honoured(sphere_scan: Scan) -> None:
    rotation = Rotation.from_euler("xyz", [3.0, -2.0, 5.0], degrees=True).as_matrix()
    grid = VolumeGrid(
        shape_zyx=(28, 30, 26),
        spacing_mm=(0.015, 0.012, 0.013),
        centre_mm=(0.185, -0.14, 0.09),
        direction=tuple(rotation.ravel()),
    )
    result = reconstruct(sphere_scan, grid)
    error_mm = centroid_mm(result.volume, grid, 0.3) - np.asarray(SPHERE.centre_mm)
    assert np.all(np.abs(error_mm) < 0.1 * 0.012), error_mm
    # the voxel holding the sphere centre, computed through the grid, is inside the sphere
    k = np.round(grid.physical_to_index(np.asarray(SPHERE.centre_mm))).astype(int)
    assert result.volume[k[2], k[1], k[0]] > 0.8


def test_short_scan_from_an_odd_start_angle_keeps_orientation() -> None:
    """Parker-weighted 200 degrees starting at 37 degrees: a wrong sense of rotation would mirror the sphere."""
    scan = make_scan(make_meta(angles=100, span_deg=200.0, start_deg=37.0), [SPHERE])
    grid = VolumeGrid.isotropic((24, 24, 24), 0.02, SPHERE.centre_mm)
    result = reconstruct(scan, grid)
    assert result.short_scan and any("Parker" in w for w in result.warnings)
    error_vox = (centroid_mm(result.volume, grid, 0.3) - np.asarray(SPHERE.centre_mm)) / 0.02
    assert np.all(np.abs(error_vox) < 0.15), error_vox


def test_zoom_box_at_finer_voxels_agrees_with_native(sphere_scan: Scan) -> None:
    native_grid = VolumeGrid.isotropic((32, 32, 32), 0.02, (0.2, -0.15, 0.1))
    fine_grid = VolumeGrid.isotropic((48, 48, 48), 0.02 / 3, (0.21, -0.16, 0.1))  # a zoom-sized box, 3x finer
    native = reconstruct(sphere_scan, native_grid).volume
    fine = reconstruct(sphere_scan, fine_grid).volume
    index = native_grid.physical_to_index(fine_grid.voxel_centres())  # (x, y, z) fractional
    upsampled = map_coordinates(native, [index[..., 2], index[..., 1], index[..., 0]], order=3)
    fine_vox = 0.02 / 3
    offset = (centroid_mm(fine, fine_grid, 0.3) - centroid_mm(upsampled, fine_grid, 0.3)) / fine_vox
    assert np.all(np.abs(offset) < 0.1), offset
    # against the voxelised truth (same sharpness, unlike the upsampled native volume) by phase correlation
    truth = density([SPHERE], fine_grid.voxel_centres())
    shift, _, _ = phase_cross_correlation(truth, fine, upsample_factor=20)
    assert np.all(np.abs(shift) <= 0.1), shift
    assert np.corrcoef(upsampled.ravel(), fine.ravel())[0, 1] > 0.95


def test_slabs_stream_into_a_memmap_and_match_one_pass(sphere_scan: Scan, tmp_path) -> None:
    grid = VolumeGrid.isotropic((40, 32, 32), 0.02, (0.1, -0.1, 0.05))
    one_pass = reconstruct(sphere_scan, grid)
    assert one_pass.slabs == 1
    events: list[ProgressEvent] = []
    out = np.memmap(tmp_path / "volume.raw", dtype=np.float32, mode="w+", shape=grid.shape_zyx)
    budget_gb = 0.6 * one_pass.peak_slab_bytes / 1024**3
    streamed = reconstruct(sphere_scan, grid, ReconConfig(memory_budget_gb=budget_gb), out=out, progress=events.append)
    assert streamed.volume is out and streamed.slabs > 1
    assert streamed.peak_slab_bytes <= budget_gb * 1024**3
    assert np.allclose(np.asarray(out), one_pass.volume, atol=1e-5 * float(np.abs(one_pass.volume).max()))
    per_slab = sphere_scan.line_integrals.shape[0]
    slab_ends = [(e.done, e.total) for e in events if e.done % per_slab == 0]
    assert slab_ends == [((i + 1) * per_slab, streamed.slabs * per_slab) for i in range(streamed.slabs)]
    assert all(e.kind == "progress" for e in events)  # stage boundaries belong to the stage runner


@pytest.mark.parametrize("prefiltered", [False, True])
def test_one_slab_reports_progress_per_batch_of_projections(
    sphere_scan: Scan, prefiltered: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An hour-long slab is not silent: the numba backend reports after each batch of projections."""
    grid = VolumeGrid.isotropic((24, 24, 24), 0.02, (0.1, -0.1, 0.05))
    config = ReconConfig(backend="numba")
    filtered = filter_scan(sphere_scan, config, interior=False) if prefiltered else None
    events: list[ProgressEvent] = []
    result = reconstruct(sphere_scan, grid, config, interior=False, progress=events.append, filtered=filtered)
    done = [e.done for e in events]
    total = sphere_scan.line_integrals.shape[0]  # 180 projections: batches of 64
    assert result.slabs == 1 and result.backend == "numba"
    assert done == [64, 128, 180] and {e.total for e in events} == {total}
    assert all(e.values == {"slab": 1.0, "slabs": 1.0} for e in events)
    monkeypatch.setattr(fdk_numba, "MIN_BATCH", 10_000)  # every projection in one call, as before batches
    whole = reconstruct(sphere_scan, grid, config, interior=False, filtered=filtered).volume
    assert np.allclose(result.volume, whole, atol=1e-6 * float(np.abs(whole).max()))


def test_out_of_shape_output_is_refused(sphere_scan: Scan) -> None:
    grid = VolumeGrid.isotropic((4, 4, 4), 0.02)
    with pytest.raises(ReconstructionError, match="out array"):
        reconstruct(sphere_scan, grid, out=np.zeros((4, 4, 5), np.float32))


def test_grid_outside_the_field_of_view_is_an_error(sphere_scan: Scan) -> None:
    with pytest.raises(ReconstructionError, match="does not intersect the field of view"):
        reconstruct(sphere_scan, VolumeGrid.isotropic((8, 8, 8), 0.02, (3.0, 0.0, 0.0)))


def test_grid_larger_than_the_field_of_view_warns_and_masks(sphere_scan: Scan) -> None:
    grid = VolumeGrid.isotropic((8, 40, 40), 0.04)
    result = reconstruct(sphere_scan, grid)
    assert any("outside the reconstructable region" in w for w in result.warnings)
    assert result.mask[4, 20, 20] and not result.mask[4, 0, 0]


def test_non_finite_projections_are_an_error(sphere_scan: Scan) -> None:
    broken = Scan(meta=sphere_scan.meta, line_integrals=sphere_scan.line_integrals.copy())
    broken.line_integrals[5, 10, 10:13] = np.nan
    with pytest.raises(ReconstructionError, match="3 non-finite"):
        reconstruct(broken, VolumeGrid.isotropic((8, 8, 8), 0.02))


def test_cancel_stops_before_work(sphere_scan: Scan) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        reconstruct(sphere_scan, VolumeGrid.isotropic((8, 8, 8), 0.02), cancel=token)
