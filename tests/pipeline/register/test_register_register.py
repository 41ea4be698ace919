"""The whole stage on synthetic foam pairs with a known zoom->scout map (64^3)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from models.errors import Cancelled
from models.events import CancelToken, ProgressEvent, StepProgress
from pipeline.errors import RegistrationError
from pipeline.register import Registered, RegistrationResult
from pipeline.register.frames import displacement_rms_voxels
from pipeline.register.synthetic import SyntheticPair, make_pair
from tests.pipeline.register.pairs import CONFIG, HARD, run


def _residual_rms_voxels(pair: SyntheticPair, registered: Registered) -> float:
    return displacement_rms_voxels(
        pair.true_zoom_grid_in_scout, registered.result.zoom_grid_in_scout, pair.zoom_mask, stride=2
    )


def test_sub_voxel_accuracy_at_3_to_1(pair_3to1: SyntheticPair, registered_3to1: Registered) -> None:
    result = registered_3to1.result
    assert _residual_rms_voxels(pair_3to1, registered_3to1) < 0.1
    # 3e-3 (was 2e-3): correlation on band-passed, resolution-matched data gives up ~0.1 % of scale on this
    # synthetic pair for no z-scale bias on simulated FDK pairs (benchmarks/registration.py)
    assert np.allclose(result.matrix, pair_3to1.true_matrix, atol=3e-3)
    assert np.allclose(result.scale, HARD["scale"], atol=0.005)
    assert np.allclose(result.rotation_deg, HARD["rotation_deg"], atol=0.3)
    assert result.ncc_after > result.ncc_before and result.ncc_after > 0.9
    assert result.metric_value < result.confidence.metric_translation < result.confidence.metric_prior
    assert result.warnings == []


def test_result_is_self_consistent(pair_3to1: SyntheticPair, registered_3to1: Registered) -> None:
    result = registered_3to1.result
    grid = result.zoom_grid_in_scout
    rotation = Rotation.from_rotvec(np.deg2rad(result.rotation_deg)).as_matrix()
    assert np.allclose(grid.direction_matrix, rotation, atol=1e-9)
    assert np.allclose(grid.spacing_mm, np.asarray(pair_3to1.zoom_grid.spacing_mm) * np.asarray(result.scale))
    assert np.allclose(grid.centre_mm, result.zoom_centre_in_scout_mm)
    index = np.array([[0.0, 0.0, 0.0], [63.0, 10.0, 40.0]])
    p_zoom = pair_3to1.zoom_grid.index_to_physical(index)
    assert np.allclose(p_zoom @ result.matrix[:, :3].T + result.matrix[:, 3], grid.index_to_physical(index), atol=1e-9)
    assert np.allclose(
        np.asarray(result.stage_error_mm), np.subtract(result.zoom_centre_in_scout_mm, result.prior_centre_mm)
    )
    assert result.refined_by == "reconstruct"
    assert registered_3to1.scout.shape == pair_3to1.zoom.shape and registered_3to1.mask.all()
    assert set(result.iterations) == {"translation", "affine"}
    assert result.seconds.total > 0
    assert RegistrationResult.model_validate_json(result.model_dump_json()) == result


def test_accuracy_at_5_to_1_with_more_noise(pair_5to1_noisy: SyntheticPair) -> None:
    registered = run(pair_5to1_noisy, reconstruct_scout=pair_5to1_noisy.reconstruct_scout)
    assert _residual_rms_voxels(pair_5to1_noisy, registered) < 0.25


def test_resample_path_without_reconstructor(pair_3to1: SyntheticPair) -> None:
    """No reconstructor: the scout box is resampled; the lost edge is masked and warned about."""
    registered = run(pair_3to1)
    result = registered.result
    assert result.refined_by == "resample"
    assert _residual_rms_voxels(pair_3to1, registered) < 0.1
    assert any("leaves the scout reconstruction" in w for w in result.warnings)
    assert 0.5 < registered.mask.mean() < 1.0
    assert not registered.mask[:, :, -1].any()  # +x stage error: the +x face has no scout data
    assert result.ncc_after > 0.9


def test_resample_matches_reconstruct_inside_the_box() -> None:
    """When the registered box stays inside the scout box, resampling is used and agrees with the truth."""
    pair = make_pair(
        48,
        ratio=3.0,
        noise=0.0,
        stage_error_mm=(0.0, 0.0, 0.0),
        rotation_deg=(0.0, 0.0, 0.0),
        scale=(0.99, 0.99, 0.99),
        seed=5,
    )
    registered = run(pair, CONFIG.model_copy(update={"refine": "resample"}), reconstruct_scout=pair.reconstruct_scout)
    assert registered.result.refined_by == "resample"
    truth, _ = pair.reconstruct_scout(registered.result.zoom_grid_in_scout)
    inner = (slice(4, -4),) * 3
    assert np.abs(registered.scout[inner] - truth[inner]).max() < 0.05


def test_wrong_pair_is_rejected() -> None:
    pair = make_pair(64, ratio=3.0, noise=0.03, seed=1, zoom_seed=77, **HARD)  # type: ignore[arg-type]
    with pytest.raises(RegistrationError) as info:
        run(pair, reconstruct_scout=pair.reconstruct_scout)
    assert info.value.stage == "register"
    assert "fft_shift_mm" in info.value.figures and "prior_centre_mm" in info.value.figures


def test_rotation_beyond_limit_fails_with_figures(pair_3to1: SyntheticPair) -> None:
    with pytest.raises(RegistrationError, match="rotation") as info:
        run(
            pair_3to1,
            CONFIG.model_copy(
                update={"max_rotation_deg": 0.5, "fallback_to_translation": False, "divergence_factor": 10.0}
            ),
            reconstruct_scout=pair_3to1.reconstruct_scout,
        )
    figures = info.value.figures
    assert np.linalg.norm(figures["rotation_deg"]) > 1.5
    assert {"metric_prior", "metric_value", "scale", "stage_error_mm"} <= set(figures)


def test_implausible_nine_parameters_fall_back_to_translation(pair_3to1: SyntheticPair) -> None:
    registered = run(
        pair_3to1, CONFIG.model_copy(update={"max_rotation_deg": 0.5}), reconstruct_scout=pair_3to1.reconstruct_scout
    )
    result = registered.result
    assert any("translation-only result is used" in w for w in result.warnings)
    assert np.allclose(result.rotation_deg, 0.0) and np.allclose(result.scale, 1.0)
    assert result.ncc_after > result.ncc_before


def test_low_correlation_fails(pair_3to1: SyntheticPair) -> None:
    with pytest.raises(RegistrationError, match="correlation") as info:
        run(
            pair_3to1,
            CONFIG.model_copy(update={"min_correlation": 0.999}),
            reconstruct_scout=pair_3to1.reconstruct_scout,
        )
    assert info.value.figures["ncc_affine"] < 0.999


def test_mismatched_inputs_fail_clearly(pair_3to1: SyntheticPair) -> None:
    with pytest.raises(RegistrationError, match="scout box grid"):
        run(
            SyntheticPair(
                **{**pair_3to1.__dict__, "scout": pair_3to1.scout[:-1], "scout_mask": pair_3to1.scout_mask[:-1]}
            )
        )


def test_progress_events_and_cancel(pair_3to1: SyntheticPair) -> None:
    events: list[ProgressEvent] = []
    token = CancelToken()

    def listen(event: ProgressEvent) -> None:
        events.append(event)
        if event.kind == "progress" and event.done == 1:
            token.cancel()

    with pytest.raises(Cancelled):
        run(pair_3to1, CONFIG, progress=listen, cancel=token)
    assert all(isinstance(e, StepProgress) and e.stage == "register" for e in events), (
        "registration sends step progress only"
    )
    assert [e.done for e in events] == [1]


def test_default_model_recovers_an_isotropic_scale_error() -> None:
    """The default step 3 fits one scale factor (a zoom calibration error is isotropic): sub-0.1 voxel at 3:1."""
    iso = {**HARD, "scale": (1.015, 1.015, 1.015)}
    pair = make_pair(64, ratio=3.0, noise=0.03, seed=1, **iso)  # type: ignore[arg-type]
    registered = run(pair, CONFIG.model_copy(update={"affine_model": "similarity", "coarse_model": "similarity"}))
    assert _residual_rms_voxels(pair, registered) < 0.1
    assert np.allclose(registered.result.scale, 1.015, atol=0.003)
    assert np.ptp(registered.result.scale) < 1e-6
