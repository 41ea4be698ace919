"""Validation before reuse: a good predictor passes, a blurring or broken one does not."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from models.cache.config import ValidationPolicy
from models.cache.validate import validate_candidate
from models.quality import psnr_db, ssim
from models.trained import ValidationFigures


def _pair(seed: int, scout_sigma: float = 2.0, shape=(16, 48, 48)):
    """Foam-like truth; zoom = mildly blurred + noise, scout on the zoom grid = strongly blurred + noise."""
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.indices(shape)
    truth = np.zeros(shape, np.float32)
    for _ in range(25):
        centre = rng.uniform((0, 0, 0), shape)
        radius = rng.uniform(2.0, 5.0)
        truth[(zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2 < radius**2] = 1.0
    clean_zoom = ndimage.gaussian_filter(truth, 0.7)
    zoom = clean_zoom + rng.normal(0, 0.03, shape).astype(np.float32)
    scout = ndimage.gaussian_filter(truth, scout_sigma) + rng.normal(0, 0.03, shape).astype(np.float32)
    mask = np.zeros(shape, bool)
    mask[:, 4:-4, 4:-4] = True
    return scout.astype(np.float32), zoom.astype(np.float32), mask, clean_zoom


def _good_model(clean_zoom: np.ndarray, seed: int):
    """Stands in for a well-trained network: close to the noise-free zoom."""
    noise = np.random.default_rng(seed).normal(0, 0.01, clean_zoom.shape).astype(np.float32)
    return lambda inputs: clean_zoom + noise


@pytest.fixture
def card(make_card):
    """A card whose figures were measured, as training does, on its own pair."""
    scout, zoom, mask, clean = _pair(seed=1)
    predicted = _good_model(clean, 2)(scout)
    figures = ValidationFigures(
        psnr_db=psnr_db(predicted, zoom, mask),
        ssim=ssim(predicted, zoom, mask),
        psnr_input_db=psnr_db(scout, zoom, mask),
        ssim_input=ssim(scout, zoom, mask),
    )
    assert figures.gain_db > 3  # the stand-in model does recover resolution
    return make_card(validation=figures)


def test_good_predictor_is_accepted(card) -> None:
    scout, zoom, mask, clean = _pair(seed=7)
    outcome = validate_candidate(card, _good_model(clean, 8), scout, zoom, mask, ValidationPolicy())
    assert outcome.accepted, outcome.reasons
    assert outcome.gain_db > 3 and outcome.ssim > outcome.ssim_input


def test_blurring_predictor_is_rejected(card) -> None:
    scout, zoom, mask, _ = _pair(seed=7)
    outcome = validate_candidate(card, lambda x: ndimage.gaussian_filter(x, 1.5), scout, zoom, mask, ValidationPolicy())
    assert not outcome.accepted
    assert outcome.gain_db < 0.5
    assert any("gain over input" in reason for reason in outcome.reasons)


def test_model_that_does_not_transfer_to_a_blurrier_pair_is_rejected(make_card) -> None:
    # a fixed sharpening "model" tuned to a scout blur of 2 voxels, with its card measured on its own pair
    sharpen = lambda x: x + 1.5 * (x - ndimage.gaussian_filter(x, 2.0))  # noqa: E731
    own_scout, own_zoom, own_mask, _ = _pair(seed=1)
    predicted = sharpen(own_scout)
    card = make_card(
        validation=ValidationFigures(
            psnr_db=psnr_db(predicted, own_zoom, own_mask),
            ssim=ssim(predicted, own_zoom, own_mask),
            psnr_input_db=psnr_db(own_scout, own_zoom, own_mask),
            ssim_input=ssim(own_scout, own_zoom, own_mask),
        )
    )
    similar = _pair(seed=7, scout_sigma=2.0)
    assert validate_candidate(card, sharpen, *similar[:3], ValidationPolicy()).accepted
    blurrier = _pair(seed=7, scout_sigma=4.0)
    outcome = validate_candidate(card, sharpen, *blurrier[:3], ValidationPolicy())
    assert not outcome.accepted
    assert any("on its own data" in reason for reason in outcome.reasons)


def test_non_finite_prediction_is_rejected(card) -> None:
    scout, zoom, mask, _ = _pair(seed=7)
    outcome = validate_candidate(card, lambda x: np.full_like(x, np.nan), scout, zoom, mask, ValidationPolicy())
    assert not outcome.accepted and outcome.psnr_db is None
    assert "NaN" in outcome.reasons[0]
    assert outcome.model_dump_json()  # still serialisable for the report


def test_margins_are_configurable(card) -> None:
    scout, zoom, mask, clean = _pair(seed=7)
    outcome = validate_candidate(card, _good_model(clean, 8), scout, zoom, mask, ValidationPolicy(min_gain_db=100.0))
    assert not outcome.accepted and "required" in outcome.reasons[0]
    loose = ValidationPolicy(max_psnr_drop_db=None, max_ssim_drop=None, max_gain_drop_db=None, min_gain_db=-100.0)
    assert validate_candidate(card, lambda x: x, scout, zoom, mask, loose).accepted


def test_baseline_must_be_beaten_when_given(card) -> None:
    scout, zoom, mask, clean = _pair(seed=7)
    good = _good_model(clean, 8)
    outcome = validate_candidate(card, good, scout, zoom, mask, ValidationPolicy(), baseline=scout)
    assert outcome.accepted and outcome.psnr_baseline_db is not None
    outcome = validate_candidate(
        card, good, scout, zoom, mask, ValidationPolicy(), baseline=clean
    )  # better than the model
    assert not outcome.accepted and "baseline" in outcome.reasons[0]


def test_shape_mismatch_is_an_error(card) -> None:
    scout, zoom, mask, _ = _pair(seed=7)
    with pytest.raises(ValueError, match="shape"):
        validate_candidate(card, lambda x: x[1:], scout, zoom, mask, ValidationPolicy())


def test_validation_is_bounded_to_central_slices(card) -> None:
    scout, zoom, mask, clean = _pair(seed=7)
    seen: list[tuple[int, ...]] = []
    good = _good_model(clean, 8)

    def predict(volume):
        seen.append(volume.shape)
        return good(scout)[4:12]  # the same central slab the validator cut out

    outcome = validate_candidate(card, predict, scout, zoom, mask, ValidationPolicy(max_slices=8))
    assert seen == [(8, 48, 48)]
    assert outcome.accepted, outcome.reasons
