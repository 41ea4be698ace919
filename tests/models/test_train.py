"""Training loop: held-out slab, early stopping, divergence, cancellation, saved model round trip."""

from __future__ import annotations

import numpy as np
import pytest

from models.config import AugmentationConfig, TrainingConfig
from models.tiles import TileSampler, augment, validation_slab
from models.trained import load_trained
from models.train import train_model
from models.errors import Cancelled, InputError, TrainingError
from models.events import CancelToken


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
        train_model(pair.scout_on_zoom, pair.zoom, pair.mask, small_net, TrainingConfig(iterations=5, tile_px=32), cancel=token)
    with pytest.raises(InputError, match="mask"):
        train_model(pair.scout_on_zoom, pair.zoom, np.zeros_like(pair.mask), small_net, TrainingConfig(iterations=5))
