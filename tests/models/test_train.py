"""Training loop: held-out slab, early stopping, divergence, cancellation, saved model round trip."""

from __future__ import annotations

import numpy as np
import pytest

from models.config import AugmentationConfig, TrainingConfig
from models.errors import Cancelled, InputError, TrainingError
from models.events import CancelToken
from models.tiles import TileSampler, augment, validation_slab
from models.train import train_model
from models.trained import load_trained


def test_sampler_never_draws_from_the_validation_slab(pair):
    z0, z1 = validation_slab(pair.zoom.shape[0], 0.15, None)
    assert (z0, z1) == (31, 36)
    train_z = np.array([z for z in range(pair.zoom.shape[0]) if not z0 <= z < z1])
    rng = np.random.default_rng(0)
    sampler = TileSampler(pair.scout_on_zoom, pair.zoom, pair.mask.astype(np.float32), 5, 32, train_z, 0.5, rng)
    drawn = {sampler.random_position()[0] for _ in range(500)}
    assert drawn and max(drawn) < z0


def test_augmentation_keeps_input_and_target_aligned():
    rng = np.random.default_rng(0)
    y = rng.random((8, 16, 16, 1), dtype=np.float32)
    x = np.repeat(y, 5, axis=-1)  # every slice equals the target
    m = np.ones_like(y)
    xa, ya, _ = augment(x, y, m, AugmentationConfig(), rng)
    np.testing.assert_allclose(xa[..., 2:3], ya, atol=1e-6)
    assert not np.allclose(ya, y)


def test_quick_model_records_curve_and_validation(quick_model):
    trained, paths = quick_model
    assert [p.iteration for p in trained.curve] == [20, 40]
    assert all(np.isfinite(p.train_loss) and np.isfinite(p.val_loss) for p in trained.curve)
    v = trained.validation
    assert v.slab_z == (31, 36) and v.voxels > 0 and np.isfinite(v.psnr_db) and -1 <= v.ssim <= 1
    assert trained.iterations_run == 40 and not trained.stopped_early
    assert {p.name for p in paths.values()} == {"model.keras", "model.onnx", "normalisation.json", "training.json"}


def test_saved_model_loads_and_predicts_the_same(quick_model):
    trained, paths = quick_model
    loaded = load_trained(paths["keras"].parent)
    x = np.random.default_rng(2).random((1, 32, 32, 5), dtype=np.float32)
    np.testing.assert_allclose(loaded.predict(x), trained.predict(x), atol=1e-6)
    assert loaded.normalisation == trained.normalisation and loaded.curve == trained.curve


def test_early_stopping_when_validation_stalls(pair, small_net):
    config = TrainingConfig(iterations=1000, tile_px=32, learning_rate=1e-12, validation_interval=5, patience=2)
    trained = train_model(pair.scout_on_zoom, pair.zoom, pair.mask, small_net, config)
    assert trained.stopped_early and trained.iterations_run < 100


def test_divergence_raises_training_error(pair, small_net):
    config = TrainingConfig(iterations=200, tile_px=32, learning_rate=1e25, validation_interval=100)
    with pytest.raises(TrainingError, match="diverged"):
        train_model(pair.scout_on_zoom * 1e6, pair.zoom * 1e6, pair.mask, small_net, config)


def test_cancel_and_bad_input(pair, small_net):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        train_model(
            pair.scout_on_zoom, pair.zoom, pair.mask, small_net, TrainingConfig(iterations=5, tile_px=32), cancel=token
        )
    with pytest.raises(InputError, match="mask"):
        train_model(pair.scout_on_zoom, pair.zoom, np.zeros_like(pair.mask), small_net, TrainingConfig(iterations=5))


def test_extra_loss_terms_vanish_on_a_perfect_prediction_and_see_edges():
    from models.train import masked_gradient_mse, masked_l1, masked_mse, output_loss

    rng = np.random.default_rng(0)
    target = rng.random((2, 16, 16, 1), dtype=np.float32)
    mask = np.ones_like(target)
    mask[:, :, :4] = 0.0  # outside the field of view: never counted
    y_true = np.concatenate([target, mask], axis=-1)
    assert float(np.max(masked_gradient_mse(y_true, target))) < 1e-12
    offset = target + 0.5  # same edges, other level: only the MSE and L1 terms see it
    assert float(np.max(masked_gradient_mse(y_true, offset))) < 1e-10
    np.testing.assert_allclose(np.asarray(masked_l1(y_true, offset)), 0.5, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(masked_mse(y_true, offset)), 0.25, rtol=1e-5)
    smooth = np.full_like(target, float(target.mean()))  # edges lost
    assert float(np.min(masked_gradient_mse(y_true, smooth))) > 0.05
    garbage = target.copy()
    garbage[:, :, :4] = 1e3  # masked-out voxels cannot change any term
    for loss in (masked_mse, masked_l1, masked_gradient_mse):
        np.testing.assert_allclose(np.asarray(loss(y_true, garbage)), 0.0, atol=1e-6)
    assert output_loss(TrainingConfig()) is masked_mse
    combined = output_loss(TrainingConfig(l1_weight=2.0, gradient_weight=1.0))
    np.testing.assert_allclose(np.asarray(combined(y_true, offset)), 0.25 + 2 * 0.5, rtol=1e-4)


def test_edge_tiles_hold_stronger_edges_than_random_tiles(pair):
    from models.train import EdgeTileSampler

    z = np.arange(pair.zoom.shape[0] - 6)
    mask = pair.mask.astype(np.float32)
    plain = TileSampler(pair.scout_on_zoom, pair.zoom, mask, 5, 24, z, 0.5, np.random.default_rng(1))
    edgy = EdgeTileSampler(pair.scout_on_zoom, pair.zoom, mask, 5, 24, z, 0.5, np.random.default_rng(1), fraction=1.0)

    def mean_edge(sampler) -> float:
        return float(
            np.mean(
                [
                    edgy.edges[zz, y : y + 24, x : x + 24].mean()
                    for zz, y, x in (sampler.random_position() for _ in range(200))
                ]
            )
        )

    assert mean_edge(edgy) > 1.2 * mean_edge(plain)
    assert max(edgy.random_position()[0] for _ in range(200)) < z[-1] + 1


def test_early_stopping_keeps_the_best_weights_and_waits_for_patience():
    from models.train import EarlyStopping

    class Model:
        def __init__(self) -> None:
            self.weights = 0

        def get_weights(self):
            return [self.weights]

    model, stopper = Model(), EarlyStopping(patience=2, min_improvement=0.1, min_iterations=0)
    for iteration, val in ((1, 1.0), (2, 0.5), (3, 0.48), (4, 0.6)):
        model.weights = iteration
        stop = stopper.update(iteration, val, model)
    assert stop and stopper.best_iteration == 2 and stopper.best_weights == [2]  # 0.48 is < 10 % better than 0.5
    late = EarlyStopping(patience=1, min_improvement=0.0, min_iterations=10)
    late.update(1, 1.0, model)
    assert not late.update(2, 2.0, model) and late.update(10, 2.0, model)


def test_cosine_schedule_decays_to_its_final_fraction_and_constant_stays():
    from models.train import learning_rate_schedule

    constant = TrainingConfig(iterations=100, learning_rate=1e-3)
    assert learning_rate_schedule(constant) == 1e-3
    cosine = TrainingConfig(
        iterations=100, learning_rate=1e-3, learning_rate_schedule="cosine", final_learning_rate_fraction=0.1
    )
    schedule = learning_rate_schedule(cosine)
    start, middle, end = (float(schedule(step)) for step in (0, 50, 100))
    assert start == pytest.approx(1e-3)
    assert middle == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5), rel=1e-4)
    assert end == pytest.approx(1e-4, rel=1e-4)
    with pytest.raises(ValueError):
        TrainingConfig(learning_rate_schedule="step")
