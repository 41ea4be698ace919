from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.register import RegistrationConfig


def test_defaults_are_valid() -> None:
    config = RegistrationConfig()
    assert config.translation_shrink_factors[-1] == 1 and config.affine_shrink_factors[-1] == 1


@pytest.mark.parametrize(
    "override",
    [
        {"translation_shrink_factors": (4, 2), "translation_smoothing_voxels": (2.0, 1.0, 0.0)},
        {"affine_shrink_factors": (), "affine_smoothing_voxels": ()},
        {"affine_shrink_factors": (0, 1), "affine_smoothing_voxels": (1.0, 0.0)},
        {"metric_samples": 10},
        {"unknown_key": 1},
        {"min_correlation_fraction": 1.5},
        {"coarse_model": "affine"},
        {"affine_metric": "mutual_information"},
        {"divergence_factor": 1.0},
    ],
)
def test_invalid_settings_are_rejected(override: dict) -> None:
    with pytest.raises(ValidationError):
        RegistrationConfig(**override)


def test_floor_is_relative_to_the_achievable_correlation() -> None:
    from pipeline.register.checks import correlation_floor

    config = RegistrationConfig(min_correlation_fraction=0.25)
    assert correlation_floor(config, 0.9) == pytest.approx(0.225)
    assert correlation_floor(config.model_copy(update={"min_correlation": 0.5}), 0.9) == pytest.approx(0.5)
