"""A step that throws or diverges hands back the earlier step's result; a zoom without structure fails by name."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import RegistrationError
from pipeline.register import mattes
from pipeline.register.frames import displacement_rms_voxels
from pipeline.register.synthetic import SyntheticPair, make_pair
from tests.pipeline.register.pairs import CONFIG, run

ITK_OUTSIDE = (
    "Exception thrown in SimpleITK ImageRegistrationMethod_Execute: "
    "/src/itkMattesMutualInformationImageToImageMetricv4.hxx:297:\n"
    "ITK ERROR: MattesMutualInformationImageToImageMetricv4(0x1): All samples map outside moving image buffer. "
    "The images do not sufficiently overlap."
)


@pytest.fixture(scope="module")
def shifted_pair() -> SyntheticPair:
    """Translation only (3 voxels off the prior), so the translation-only result is already right."""
    return make_pair(48, ratio=3.0, noise=0.02, stage_error_mm=(0.03, -0.02, 0.01), seed=8)


@pytest.mark.parametrize(
    ("error", "named"),
    [
        (RuntimeError(ITK_OUTSIDE), "failed: All samples map outside moving image buffer"),
        (mattes.StepDiverged("the parameters ran away (x)"), "diverged"),
    ],
)
def test_nine_parameter_failure_falls_back_to_translation(
    shifted_pair: SyntheticPair, monkeypatch: pytest.MonkeyPatch, error: Exception, named: str
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(mattes, "optimise_scale_versor", fail)
    result = run(shifted_pair).result
    assert result.transform_from == "translation"
    assert any(named in w and "translation-only result is used" in w for w in result.warnings), result.warnings
    assert _residual_of(shifted_pair, result) < 0.3


def _residual_of(pair: SyntheticPair, result) -> float:  # type: ignore[no-untyped-def]
    return displacement_rms_voxels(pair.true_zoom_grid_in_scout, result.zoom_grid_in_scout, pair.zoom_mask, stride=2)


def test_nine_parameter_failure_without_fallback_fails(
    shifted_pair: SyntheticPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError(ITK_OUTSIDE)

    monkeypatch.setattr(mattes, "optimise_scale_versor", fail)
    with pytest.raises(RegistrationError, match="All samples map outside") as info:
        run(shifted_pair, CONFIG.model_copy(update={"fallback_to_translation": False}))
    assert {"fft_shift_mm", "metric_translation", "affine_failure"} <= set(info.value.figures)


def test_translation_failure_falls_back_to_fft(shifted_pair: SyntheticPair, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError(ITK_OUTSIDE)

    monkeypatch.setattr(mattes, "optimise_translation", fail)
    result = run(shifted_pair).result
    assert any("translation step failed" in w and "FFT shift is used" in w for w in result.warnings), result.warnings
    assert result.iterations["translation"] == 0
    assert _residual_of(shifted_pair, result) < 1.0


def test_runaway_parameters_are_stopped(shifted_pair: SyntheticPair) -> None:
    """Limits tighter than the map itself count as a runaway: the optimiser is stopped and the translation kept."""
    config = CONFIG.model_copy(update={"max_scale_error": 1e-4, "max_rotation_deg": 1e-3, "divergence_factor": 1.01})
    pair = make_pair(48, ratio=3.0, noise=0.02, stage_error_mm=(0.03, -0.02, 0.01), scale=(1.02, 0.98, 1.0), seed=8)
    result = run(pair, config).result
    assert result.transform_from == "translation"
    assert any("diverged" in w for w in result.warnings), result.warnings


def test_zoom_without_structure_at_scout_resolution_fails_naming_the_figure() -> None:
    """A zoom of white noise, and a scout that is that noise blurred: nothing survives at the scout's resolution."""
    pair = make_pair(48, ratio=3.0, noise=0.0, seed=9)
    rng = np.random.default_rng(0)
    zoom = rng.normal(1.0, 0.2, pair.zoom.shape).astype(np.float32)
    from scipy import ndimage

    scout = ndimage.gaussian_filter(zoom, 4.0)
    with pytest.raises(RegistrationError, match="no structure at the scout's resolution") as info:
        run(SyntheticPair(**{**pair.__dict__, "zoom": zoom, "scout": scout}))
    figures = info.value.figures
    assert figures["structure_ncc"] < 0.15 and figures["scout_blur_sigma_voxels"] >= 3.0
    assert f"{figures['structure_ncc']:.3f}" in str(info.value)


def test_achievable_correlation_falls_with_the_scout_blur() -> None:
    """The figure the floor is judged against: high for a sharp scout, lower for a blurry one, ~0 for noise."""
    from pipeline.register.matching import achievable_ncc

    pair = make_pair(48, ratio=3.0, noise=0.0, seed=9)
    values = [achievable_ncc(pair.zoom, pair.zoom_mask, sigma, 0.0) for sigma in (1.0, 3.0, 6.0)]
    assert values[0] > values[1] > values[2] > 0.2
    noise = np.random.default_rng(1).normal(0.0, 1.0, pair.zoom.shape).astype(np.float32)
    assert achievable_ncc(noise, pair.zoom_mask, 3.0, 0.0) < 0.1
