"""Step 2 (resolution match): which high-pass and slice profile the metric data get; step 3's model."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.register import RegistrationConfig
from pipeline.register.frames import WorkingFrames
from pipeline.register.matching import flatten_slices
from pipeline.register.steps import fft_step, match_step
from pipeline.register.synthetic import make_pair


@pytest.mark.parametrize("coarse", [False, True])
def test_metric_highpass_of_fine_and_coarse_scouts(coarse: bool) -> None:
    """A fine scout's metric data get ``metric_highpass_factor``, a coarse one's ``coarse_metric_highpass_factor``
    (issue 14: the interior zoom FDK's smooth bias pulled the scale down, x/y at 3:1 and all axes at 5:1)."""
    pair = make_pair(40, ratio=3.0, seed=2)
    config = RegistrationConfig(
        threads=1,
        highpass_factor=3.0,
        metric_highpass_factor=2.0,
        coarse_metric_highpass_factor=1.0,
        coarse_min_sigma_voxels=0.0 if coarse else 50.0,
    )
    frames = WorkingFrames(pair.zoom_grid, pair.scout_box_grid)
    mask = pair.zoom_mask & pair.scout_mask
    fft = fft_step(pair.zoom, pair.scout, mask, frames, config)
    match = match_step(pair.zoom, pair.zoom_mask, pair.scout, pair.scout_mask, frames, fft, config)
    factor = 1.0 if coarse else 2.0
    assert match.highpass_voxels == pytest.approx(factor * max(match.resolution.metric_sigma_voxels, 1.0))


def test_flatten_slices_removes_each_slice_mean_inside_the_mask() -> None:
    """A z profile (an FDK box's dimmed ends) goes; the in-slice structure and the overall mean stay."""
    rng = np.random.default_rng(0)
    structure = rng.normal(size=(16, 12, 12)).astype(np.float32)
    structure -= structure.mean(axis=(1, 2), keepdims=True)
    profile = np.linspace(0.5, 1.0, 16, dtype=np.float32)[:, None, None]
    mask = np.ones(structure.shape, dtype=bool)
    mask[:, :2] = False  # outside the mask: excluded from the slice means
    volume = structure + profile
    volume[~mask] = 100.0
    flat = flatten_slices(volume, mask)
    slice_means = np.array([flat[k][mask[k]].mean() for k in range(16)])
    assert np.ptp(slice_means) < 1e-4
    assert slice_means.mean() == pytest.approx(volume[mask].mean(), abs=1e-4)
    inside = [flat[k][mask[k]] - volume[k][mask[k]] for k in range(16)]
    assert all(np.ptp(d) < 1e-4 for d in inside)  # each slice shifted by one constant


@pytest.mark.parametrize("coarse", [False, True])
def test_step_3_fits_the_configured_model(coarse: bool) -> None:
    """Fine scouts fit ``affine_model``, coarse ones ``coarse_model`` (both one isotropic scale by default)."""
    from pipeline.register.steps import affine_step, translation_step

    pair = make_pair(40, ratio=3.0, seed=2)
    config = RegistrationConfig(
        threads=1,
        affine_model="scale_versor",
        coarse_model="similarity",
        coarse_min_sigma_voxels=0.0 if coarse else 50.0,
    )
    frames = WorkingFrames(pair.zoom_grid, pair.scout_box_grid)
    fft = fft_step(pair.zoom, pair.scout, pair.zoom_mask & pair.scout_mask, frames, config)
    match = match_step(pair.zoom, pair.zoom_mask, pair.scout, pair.scout_mask, frames, fft, config)
    translation = translation_step(match, fft, frames, config, None)
    outcome = affine_step(match, translation, frames, config, None).outcome
    assert outcome is not None
    scales = np.linalg.svd(outcome.linear, compute_uv=False)
    isotropic = np.ptp(scales) < 1e-6
    assert isotropic == coarse
