"""Step 2 (resolution match): which high-pass the metric data get."""

from __future__ import annotations

import pytest

from pipeline.register import RegistrationConfig
from pipeline.register.frames import WorkingFrames
from pipeline.register.steps import fft_step, match_step
from pipeline.register.synthetic import make_pair


@pytest.mark.parametrize("coarse", [False, True])
def test_metric_highpass_of_fine_and_coarse_scouts(coarse: bool) -> None:
    """A fine scout's metric data get ``metric_highpass_factor`` (issue 14: the interior zoom FDK's smooth bias
    pulled the x/y scale down at 3:1); a coarse one keeps ``highpass_factor``."""
    pair = make_pair(40, ratio=3.0, seed=2)
    config = RegistrationConfig(
        threads=1, highpass_factor=3.0, metric_highpass_factor=2.0, coarse_min_sigma_voxels=0.0 if coarse else 50.0
    )
    frames = WorkingFrames(pair.zoom_grid, pair.scout_box_grid)
    mask = pair.zoom_mask & pair.scout_mask
    fft = fft_step(pair.zoom, pair.scout, mask, frames, config)
    match = match_step(pair.zoom, pair.zoom_mask, pair.scout, pair.scout_mask, frames, fft, config)
    factor = 3.0 if coarse else 2.0
    assert match.highpass_voxels == pytest.approx(factor * max(match.resolution.metric_sigma_voxels, 1.0))
