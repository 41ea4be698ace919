"""The numba FDK against RTK (the reference): same volume on every kind of grid and scan, and its pieces.

Measured when written: max |numba - RTK| is 0.6-2e-6 of the RTK volume's range
on every case below; the ramp filter alone is bit-identical to
``rtk.FFTRampImageFilter``. The tolerance asked for is 1e-3 of the range.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from pipeline.acquisition.scan import Scan
from pipeline.errors import ReconstructionError
from pipeline.grid import VolumeGrid
from pipeline.reconstruct import ReconConfig, filter_scan, reconstruct
from pipeline.reconstruct.fdk_backproject import backproject, detector_matrices
from pipeline.reconstruct.fdk_filter import (
    angular_weights,
    mirror_weights,
    padded_width,
    parker_weights,
    ramp_kernel_fft,
    ramp_rows,
    truncation_extent,
)
from tests.pipeline.reconstruct.conftest import SPHERE
from tests.pipeline.reconstruct.phantoms import Cylinder, Sphere, make_meta, make_scan

TOLERANCE = 1e-3  # of the RTK volume's range (max abs difference)
ROTATION = tuple(Rotation.from_euler("xyz", [3.0, -2.0, 5.0], degrees=True).as_matrix().ravel())


@pytest.fixture(scope="module")
def short_scan() -> Scan:
    """200 degrees from 37 degrees: Parker weights."""
    return make_scan(make_meta(angles=100, span_deg=200.0, start_deg=37.0), [SPHERE])


@pytest.fixture(scope="module")
def interior_scan() -> Scan:
    """A cylinder twice the field of view with a hole: truncated projections."""
    meta = make_meta(role="zoom", detector=(32, 64), angles=180)
    wide = Cylinder((0.0, 0.0, 0.0), 2.0 * meta.geometry.field_of_view_radius_mm(), 20.0, 1.0)
    return make_scan(meta, [wide, Sphere((0.2, 0.1, 0.0), 0.08, -1.0)])


def assert_same_as_rtk(scan: Scan, grid: VolumeGrid, config: ReconConfig = ReconConfig(), **kwargs: object) -> None:
    ours = reconstruct(scan, grid, config.model_copy(update={"backend": "numba"}), **kwargs)
    rtk = reconstruct(scan, grid, config.model_copy(update={"backend": "rtk"}), **kwargs)
    assert ours.backend == "numba" and rtk.backend == "rtk"
    value_range = float(np.ptp(rtk.volume))
    assert value_range > 0.5  # the phantom is there (mu 1/mm)
    worst = float(np.abs(ours.volume - rtk.volume).max()) / value_range
    assert worst < TOLERANCE, worst
    assert ours.interior == rtk.interior and ours.short_scan == rtk.short_scan


@pytest.mark.parametrize(
    "grid",
    [
        VolumeGrid.isotropic((24, 24, 24), 0.02, (0.19, -0.14, 0.11)),  # off-centre box
        VolumeGrid(
            shape_zyx=(28, 30, 26), spacing_mm=(0.015, 0.012, 0.013), centre_mm=(0.185, -0.14, 0.09), direction=ROTATION
        ),
        VolumeGrid.isotropic((12, 40, 40), 0.04),  # wider than the field of view: edge clamping
    ],
    ids=["off-centre", "rotated-anisotropic", "beyond-fov"],
)
def test_full_scan_matches_rtk(sphere_scan: Scan, grid: VolumeGrid) -> None:
    assert_same_as_rtk(sphere_scan, grid)


def test_short_scan_with_parker_weights_matches_rtk(short_scan: Scan) -> None:
    assert_same_as_rtk(short_scan, VolumeGrid.isotropic((20, 32, 32), 0.02, (0.1, 0.0, 0.05)))


def test_interior_scan_with_truncation_correction_and_hann_matches_rtk(interior_scan: Scan) -> None:
    assert_same_as_rtk(interior_scan, VolumeGrid.isotropic((8, 64, 64), 0.02), ReconConfig(hann_cut_frequency=0.8))


def test_streamed_slabs_match_rtk(sphere_scan: Scan) -> None:
    grid = VolumeGrid.isotropic((40, 32, 32), 0.02, (0.1, -0.1, 0.05))
    assert_same_as_rtk(sphere_scan, grid, ReconConfig(memory_budget_gb=0.002))


def test_ramp_filter_is_rtks(interior_scan: Scan) -> None:
    """Rows of odd width, truncation correction and a Hann window through RTK's own ramp filter."""
    from pipeline.reconstruct._itk import itk_modules

    itk, rtk = itk_modules()
    rows = np.random.default_rng(3).random((3, 5, 37)).astype(np.float32)
    image = itk.image_view_from_array(rows)
    image.SetSpacing([0.2, 0.3, 1.0])
    ramp = rtk.FFTRampImageFilter[itk.Image[itk.F, 3], itk.Image[itk.F, 3], itk.D].New()
    ramp.SetInput(image)
    ramp.SetTruncationCorrection(0.3)
    ramp.SetHannCutFrequency(0.7)
    ramp.Update()
    expected = itk.array_from_image(ramp.GetOutput())
    size = padded_width(37)
    ours = np.empty_like(rows)
    ramp_rows(rows.astype(np.float64), ramp_kernel_fft(size, 0.2, 0.7), size, truncation_extent(37, 0.3), ours)
    assert np.allclose(ours, expected, rtol=0, atol=1e-6 * float(np.ptp(expected)))


def test_filtered_once_gives_the_same_volumes(sphere_scan: Scan) -> None:
    grids = [
        VolumeGrid.isotropic((16, 16, 16), 0.02, SPHERE.centre_mm),
        VolumeGrid.isotropic((24, 24, 24), 0.02 / 3, SPHERE.centre_mm),
    ]
    shared = filter_scan(sphere_scan)
    for grid in grids:
        direct = reconstruct(sphere_scan, grid).volume
        reused = reconstruct(sphere_scan, grid, filtered=shared)
        assert reused.backend == "numba" and not any("not used" in w for w in reused.warnings)
        assert np.array_equal(reused.volume, direct)


def test_filtered_projections_of_other_settings_are_refused(sphere_scan: Scan) -> None:
    shared = filter_scan(sphere_scan)
    grid = VolumeGrid.isotropic((8, 8, 8), 0.02)
    with pytest.raises(ReconstructionError, match="Hann"):
        reconstruct(sphere_scan, grid, ReconConfig(hann_cut_frequency=0.5), filtered=shared)
    with pytest.raises(ReconstructionError, match="interior"):
        reconstruct(sphere_scan, grid, interior=True, filtered=shared)


def test_a_backend_that_filters_itself_says_it_did_not_use_them(sphere_scan: Scan) -> None:
    grid = VolumeGrid.isotropic((8, 8, 8), 0.02)
    result = reconstruct(sphere_scan, grid, ReconConfig(backend="rtk"), filtered=filter_scan(sphere_scan))
    assert result.backend == "rtk" and any("filtered projections not used" in w for w in result.warnings)


def test_a_grid_reaching_past_the_source_circle_stays_finite(sphere_scan: Scan) -> None:
    """Voxels farther from the axis than the source are behind it at some angles.

    Those angles add nothing here; RTK back-projects them through the source
    (a mirror image). Both are outside any field of view; inside the source
    circle the two agree.
    """
    grid = VolumeGrid(shape_zyx=(2, 40, 2), spacing_mm=(0.02, 1.0, 0.02), centre_mm=(0.0, -19.5, 0.0))
    ours = reconstruct(sphere_scan, grid, ReconConfig(backend="numba")).volume
    rtk = reconstruct(sphere_scan, grid, ReconConfig(backend="rtk")).volume
    assert np.all(np.isfinite(ours))
    radius = np.hypot(grid.voxel_centres()[..., 0], grid.voxel_centres()[..., 1])
    inside = radius < sphere_scan.meta.geometry.source_to_axis_mm - 1.0
    assert np.abs(ours - rtk)[inside].max() < TOLERANCE * np.ptp(rtk)


def test_angular_weights_are_half_gaps_and_cover_a_turn() -> None:
    uniform = make_meta(angles=8).geometry
    assert np.allclose(angular_weights(uniform), math.radians(45.0))
    uneven = make_meta(angles=90, span_deg=200.0, start_deg=-30.0).geometry
    assert math.isclose(float(angular_weights(uneven).sum()), 2 * math.pi)


def test_parker_weights_only_for_a_gap_over_20_degrees(short_scan: Scan) -> None:
    assert parker_weights(make_meta(angles=180).geometry) is None
    assert parker_weights(make_meta(angles=90, span_deg=345.0).geometry) is None  # 15 degree gap: RTK leaves it
    weights = parker_weights(short_scan.meta.geometry)
    assert weights is not None and weights.shape == (100, 64)
    assert weights.min() >= 0.0 and weights.max() <= 2.0 + 1e-12
    assert np.all(weights[45:55] == 2.0)  # the middle of the scan is seen once


def test_truncation_extension_fades_out() -> None:
    weights = mirror_weights(10)
    assert weights[1] == pytest.approx(1.0) and weights[-1] == pytest.approx(0.0)
    assert np.all(np.diff(weights[1:]) < 0)
    assert truncation_extent(64, 0.5) == 32 and truncation_extent(64, 2.0) == 32  # bounded by the zero padding


def reference_backprojection(
    projections: np.ndarray, matrices: np.ndarray, shape_zyx: tuple[int, int, int]
) -> np.ndarray:
    """The kernel's definition in float64 NumPy, one angle at a time (slow, small grids only)."""
    rows, columns = projections.shape[1:]
    k, j, i = np.meshgrid(*(np.arange(n, dtype=float) for n in shape_zyx), indexing="ij")
    index = np.stack([i, j, k, np.ones_like(i)], axis=-1)
    out = np.zeros(shape_zyx)
    for a in range(projections.shape[0]):
        cu, cv, w = np.moveaxis(index @ matrices[a].T, -1, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            u, v = cu / w, cv / w
            inside = (w > 0) & (u >= -0.5) & (u < columns - 0.5) & (v >= -0.5) & (v < rows - 0.5)
        u = np.clip(np.where(inside, u, 0.0), 0, columns - 1)
        v = np.clip(np.where(inside, v, 0.0), 0, rows - 1)
        u0 = np.minimum(np.floor(u).astype(int), max(columns - 2, 0))
        v0 = np.minimum(np.floor(v).astype(int), max(rows - 2, 0))
        u1, v1 = np.minimum(u0 + 1, columns - 1), np.minimum(v0 + 1, rows - 1)
        fu, fv = u - u0, v - v0
        p = projections[a].astype(float)
        top = p[v0, u0] + fu * (p[v0, u1] - p[v0, u0])
        bottom = p[v1, u0] + fu * (p[v1, u1] - p[v1, u0])
        out += np.where(inside, (top + fv * (bottom - top)) / np.where(inside, w, 1.0) ** 2, 0.0)
    return out


@pytest.mark.parametrize(
    ("detector", "grid"),
    [
        ((24, 40), VolumeGrid(shape_zyx=(9, 21, 19), spacing_mm=(0.05, 0.04, 0.045), direction=ROTATION)),
        ((24, 40), VolumeGrid.isotropic((5, 30, 30), 0.12, (0.3, -0.2, 0.1))),  # far past the detector's edges
        ((1, 40), VolumeGrid.isotropic((3, 12, 13), 0.05)),  # a single detector row
        ((24, 1), VolumeGrid.isotropic((3, 12, 13), 0.05)),  # a single detector column
    ],
    ids=["rotated", "beyond-edges", "one-row", "one-column"],
)
def test_kernel_matches_its_definition(detector: tuple[int, int], grid: VolumeGrid) -> None:
    """The vectorised kernel (runs of voxels on the detector, bordered projections, paired sample loads)
    against the plain per-voxel definition, on random projections: edges, clamping, any row length."""
    geometry = make_meta(detector=detector, angles=7).geometry
    projections = np.random.default_rng(5).normal(size=(7, *detector)).astype(np.float32)
    matrices = detector_matrices(geometry, grid)
    ours = np.zeros(grid.shape_zyx, dtype=np.float32)
    backproject(projections, matrices, ours)
    expected = reference_backprojection(projections, matrices, grid.shape_zyx)
    assert np.abs(expected).max() > 0
    assert np.abs(ours - expected).max() < 1e-5 * np.abs(expected).max()


def test_kernel_stays_finite_at_the_source() -> None:
    """A voxel at the source (w = 0 exactly: u = 0/0) shares a vector block with voxels on the detector;
    it and the voxels behind the source (w < 0) gain nothing, and nothing turns NaN."""
    matrices = np.zeros((3, 3, 4))
    matrices[:, 2] = [0.25, 0.0, 0.0, -1.25]  # w = (i - 5) / 4: voxel 5 at the source, 0..4 behind it
    matrices[:, 0, 0] = 0.5 * matrices[:, 2, 0]  # column = 0.5 and row = 0 wherever w > 0
    matrices[:, 0, 3] = 0.5 * matrices[:, 2, 3]
    out = np.zeros((1, 1, 12), dtype=np.float32)
    projections = np.arange(3 * 4 * 4, dtype=np.float32).reshape(3, 4, 4) + 1.0
    backproject(projections, matrices, out)
    assert np.all(np.isfinite(out))
    assert np.all(out[0, 0, :6] == 0.0) and np.all(out[0, 0, 6:] > 0.0)
    expected = reference_backprojection(projections, matrices, (1, 1, 12))
    assert np.allclose(out, expected, rtol=1e-5, atol=0.0)
