"""Train the 2.5D U-Net on one registered scout/zoom pair.

Random tiles of ``slices`` adjacent input slices predict the centre target
slice; the loss ``w1*MSE(unet_out) + w2*MSE(final_out)`` counts only voxels in
the valid field of view. A z-slab of the target is held out for validation and
early stopping. The loop is ``train_on_batch`` so it runs on any Keras backend
and can be cancelled between steps.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from models.config import NetworkConfig, TrainingConfig
from models.quality import data_range, psnr_db, ssim
from models.tiles import TileSampler, augment, fit_tile, stack_indices, validation_slab
from models.trained import CurvePoint, Normalisation, TrainedModel, ValidationFigures
from models.errors import InputError, TrainingError
from models.events import CancelToken, ProgressCallback, step

STAGE = "train"
VALIDATION_TILES = 16


def masked_mse(y_true, y_pred):
    """Per-sample MSE over voxels where the mask (channel 1 of ``y_true``) is set."""
    from keras import ops

    target, mask = y_true[..., :1], y_true[..., 1:2]
    err = ops.square(ops.cast(y_pred, "float32") - target) * mask
    return ops.sum(err, axis=(1, 2, 3)) / ops.maximum(ops.sum(mask, axis=(1, 2, 3)), 1.0)


def _check_inputs(inputs: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    if inputs.ndim != 3 or inputs.shape != target.shape:
        raise InputError(None, f"inputs and target must be [z, y, x] volumes of one shape (got {inputs.shape} and {target.shape})")
    mask = np.broadcast_to(np.asarray(mask, bool), inputs.shape)
    if not mask.any():
        raise InputError(None, "the valid field-of-view mask is empty")
    if not (np.isfinite(inputs).all() and np.isfinite(target).all()):
        raise InputError(None, "inputs or target contain NaN or infinite values")
    return mask


def _build(network: NetworkConfig, training: TrainingConfig, mixed: bool, init_weights: Path | None):
    import keras

    from models.unet import build_unet25d

    keras.mixed_precision.set_dtype_policy("mixed_float16" if mixed else "float32")
    try:
        model = build_unet25d(network)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    if init_weights is not None:
        _load_initial(model, Path(init_weights))
    model.compile(optimizer=keras.optimizers.Adam(training.learning_rate), loss=[masked_mse, masked_mse],
                  loss_weights=list(training.loss_weights))
    return model


def _load_initial(model, path: Path) -> None:
    import keras

    source = path / "model.keras" if path.is_dir() else path
    try:
        start = keras.saving.load_model(source, compile=False)
        model.set_weights(start.get_weights())
    except (OSError, ValueError) as exc:
        raise TrainingError(f"cannot start from {source}: {exc}") from exc


def _predict_slices(model, stacks_zyx: np.ndarray, slices: int, z_range: tuple[int, int], multiple: int) -> np.ndarray:
    """``final_out`` for every slice in ``z_range`` of a normalised volume (whole slices, reflect-padded)."""
    nz, ny, nx = stacks_zyx.shape
    pad_y, pad_x = (-ny) % multiple, (-nx) % multiple
    out = []
    for z in range(*z_range):
        stack = np.moveaxis(stacks_zyx[stack_indices(z, slices, nz)], 0, -1)
        stack = np.pad(stack, ((0, pad_y), (0, pad_x), (0, 0)), mode="reflect")
        pred = model.predict_on_batch(stack[None])
        final = pred[-1] if isinstance(pred, (list, tuple)) else pred
        out.append(np.asarray(final)[0, :ny, :nx, 0])
    return np.stack(out)


def _validation_loss(model, batch: tuple[np.ndarray, np.ndarray, np.ndarray]) -> float:
    x, y, m = batch
    pred = model.predict_on_batch(x)
    final = np.asarray(pred[-1] if isinstance(pred, (list, tuple)) else pred, np.float64)
    return float(np.sum((final - y) ** 2 * m) / max(float(m.sum()), 1.0))


def train_model(
    inputs: np.ndarray,
    target: np.ndarray,
    mask: np.ndarray,
    network: NetworkConfig,
    training: TrainingConfig,
    *,
    validation_z: tuple[int, int] | None = None,
    init_weights: Path | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> TrainedModel:
    """Train on ``inputs`` (scout on the zoom grid) -> ``target`` (zoom), both ``[z, y, x]``, inside ``mask``."""
    from models.device import accelerator_present, release_memory

    started = time.perf_counter()
    mask = _check_inputs(inputs, target, mask)
    nz, ny, nx = inputs.shape
    z0, z1 = validation_slab(nz, training.validation_fraction, validation_z)
    train_z = np.array([z for z in range(nz) if not z0 <= z < z1 and mask[z].any()])
    if train_z.size == 0:
        raise InputError(None, f"no training slices left outside the validation slab {z0}:{z1}")
    tile = fit_tile(training.tile_px, (ny, nx), network.pad_multiple_px)

    norm = Normalisation.from_percentiles(inputs, mask, training.normalisation_percentiles)
    x_all, y_all = norm.apply(inputs), norm.apply(target)
    mask_f = mask.astype(np.float32)
    rng = np.random.default_rng(training.seed)
    sampler = TileSampler(x_all, y_all, mask_f, network.slices, tile, train_z, training.min_mask_fraction, rng)
    val_sampler = TileSampler(x_all, y_all, mask_f, network.slices, tile, np.arange(z0, z1), 0.0, rng)
    val_batch = val_sampler.fixed_batch(VALIDATION_TILES)

    import keras

    keras.utils.set_random_seed(training.seed)
    model = _build(network, training, training.mixed_precision and accelerator_present(), init_weights)
    curve: list[CurvePoint] = []
    best_val, best_weights, best_iteration, checks_without_gain = np.inf, model.get_weights(), 0, 0
    stopped_early, iteration, recent = False, 0, []
    for iteration in range(1, training.iterations + 1):
        if cancel is not None:
            cancel.raise_if_cancelled("training")
        x, y, m = augment(*sampler.batch(training.batch_size), training.augmentation, rng)
        ym = np.concatenate([y, m], axis=-1)
        losses = model.train_on_batch(x, [ym, ym])
        loss = float(np.ravel(losses)[0])
        if not np.isfinite(loss):
            release_memory()
            raise TrainingError(f"training diverged at iteration {iteration} (loss {loss})", {"iteration": iteration})
        recent.append(loss)
        if iteration % training.validation_interval == 0 or iteration == training.iterations:
            val = _validation_loss(model, val_batch)
            curve.append(CurvePoint(iteration=iteration, train_loss=float(np.mean(recent)), val_loss=val))
            recent = []
            step(progress, STAGE, iteration, training.iterations, loss=curve[-1].train_loss, val_loss=val)
            if val < best_val * (1.0 - training.min_improvement):
                best_val, best_weights, best_iteration, checks_without_gain = val, model.get_weights(), iteration, 0
            else:
                checks_without_gain += 1
                if checks_without_gain >= training.patience and iteration >= training.min_iterations:
                    stopped_early = True
                    break
        elif iteration % 10 == 0:
            step(progress, STAGE, iteration, training.iterations, loss=loss)

    # Rebuild a fresh float32 model from the best weights so the session (and accelerator memory) can go.
    from models.unet import build_unet25d

    del model
    release_memory()
    keras.mixed_precision.set_dtype_policy("float32")
    final = build_unet25d(network)
    final.set_weights(best_weights)
    predicted = norm.invert(_predict_slices(final, x_all, network.slices, (z0, z1), network.pad_multiple_px))
    slab_mask, slab_target = mask[z0:z1], target[z0:z1]
    rng_value = data_range(slab_target, slab_mask)
    validation = ValidationFigures(
        psnr_db=psnr_db(predicted, slab_target, slab_mask, rng_value),
        ssim=ssim(predicted, slab_target, slab_mask, rng_value),
        psnr_input_db=psnr_db(inputs[z0:z1], slab_target, slab_mask, rng_value),
        ssim_input=ssim(inputs[z0:z1], slab_target, slab_mask, rng_value),
        slab_z=(z0, z1),
        voxels=int(slab_mask.sum()),
    )
    return TrainedModel(
        model=final, network=network, training=training, normalisation=norm, curve=curve, validation=validation,
        iterations_run=iteration, seconds=time.perf_counter() - started, stopped_early=stopped_early,
        best_iteration=best_iteration,
    )
