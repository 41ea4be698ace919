"""3D SRCNN baseline: three 3D convolutions (patch extraction, mapping, reconstruction), MSE.

Trained on the same registered pair as the U-Net (same normalisation, same
held-out slab excluded) so the comparison is fair; applied by
``pipeline.baselines.srcnn.apply_srcnn``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from models.config import SRCNNConfig, TrainingConfig
from models.errors import InputError, TrainingError
from models.events import CancelToken, ProgressCallback, step
from models.tiles import validation_slab
from models.trained import Normalisation


@dataclass
class TrainedSRCNN:
    model: object  # keras.Model [B, D, H, W, 1] -> [B, D, H, W, 1]
    normalisation: Normalisation
    halo_vox: int
    losses: list[float]
    seconds: float


def build_srcnn3d(config: SRCNNConfig):
    import keras
    from keras import layers

    k1, k2, k3 = config.kernels
    f1, f2 = config.filters
    inputs = keras.Input(shape=(None, None, None, 1), name="volume")
    x = layers.Conv3D(f1, k1, padding="same", activation="relu", name="extract")(inputs)
    x = layers.Conv3D(f2, k2, padding="same", activation="relu", name="map")(x)
    out = layers.Conv3D(1, k3, padding="same", dtype="float32", name="reconstruct")(x)
    return keras.Model(inputs, out, name="srcnn3d")


def train_srcnn(
    inputs: np.ndarray,
    target: np.ndarray,
    mask: np.ndarray,
    config: SRCNNConfig,
    *,
    validation_fraction: float = TrainingConfig().validation_fraction,
    validation_z: tuple[int, int] | None = None,
    percentiles: tuple[float, float] = (1.0, 99.0),
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> TrainedSRCNN:
    """Train on random cubes outside the held-out slab (same split rule as the U-Net)."""
    import keras

    from models.train import masked_mse

    started = time.perf_counter()
    mask = np.broadcast_to(np.asarray(mask, bool), inputs.shape)
    z0, z1 = validation_slab(inputs.shape[0], validation_fraction, validation_z)
    # the longer side of the slab is the training region (the slab sits at one end by default)
    lo, hi = (0, z0) if z0 >= inputs.shape[0] - z1 else (z1, inputs.shape[0])
    norm = Normalisation.from_percentiles(inputs, mask, percentiles)
    x_all, y_all, m_all = norm.apply(inputs[lo:hi]), norm.apply(target[lo:hi]), mask[lo:hi].astype(np.float32)
    side = [min(config.tile_px, n) for n in x_all.shape]
    if min(side) < 1 or not m_all.any():
        raise InputError(None, "no training region left for SRCNN outside the validation slab")
    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = build_srcnn3d(config)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=masked_mse)
    losses = []
    for it in range(1, config.iterations + 1):
        if cancel is not None:
            cancel.raise_if_cancelled("srcnn training")
        starts = [
            [int(rng.integers(0, n - s + 1)) for n, s in zip(x_all.shape, side)] for _ in range(config.batch_size)
        ]
        box = [tuple(slice(a, a + s) for a, s in zip(st, side)) for st in starts]
        x = np.stack([x_all[b] for b in box])[..., None]
        ym = np.stack([np.stack([y_all[b], m_all[b]], axis=-1) for b in box])
        loss = float(np.ravel(model.train_on_batch(x, ym))[0])
        if not np.isfinite(loss):
            raise TrainingError(f"SRCNN training diverged at iteration {it}")
        losses.append(loss)
        if it % 10 == 0:
            step(progress, "srcnn", it, config.iterations, loss=loss)
    halo = sum((k - 1) // 2 for k in config.kernels)
    return TrainedSRCNN(model, norm, halo, losses, time.perf_counter() - started)
