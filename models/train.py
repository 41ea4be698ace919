"""Train the 2.5D U-Net on one registered scout/zoom pair.

Random tiles of ``slices`` adjacent input slices predict the centre target
slice; the loss ``w1*L(unet_out) + w2*L(final_out)`` counts only voxels in
the valid field of view, with ``L`` the masked MSE (the paper's loss) plus
optional masked L1 and edge (finite-difference) terms. A z-slab of the target
is held out for validation and early stopping. The loop is ``train_on_batch``
so it runs on any Keras backend and can be cancelled between steps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.config import NetworkConfig, TrainingConfig
from models.errors import InputError, TrainingError
from models.events import CancelToken, ProgressCallback, training_step
from models.tiles import TileSampler, augment, fit_tile, stack_indices, validation_slab
from models.trained import CurvePoint, Normalisation, TrainedModel, ValidationFigures, slab_figures

VALIDATION_TILES = 16
EDGE_CANDIDATES = 4  # an edge tile is the strongest-edged of this many random tiles

# called after every validation check with (iteration, training model, normalisation)
CheckCallback = Callable[[int, Any, Normalisation], None]


def masked_mse(y_true, y_pred):
    """Per-sample MSE over voxels where the mask (channel 1 of ``y_true``) is set."""
    from keras import ops

    target, mask = y_true[..., :1], y_true[..., 1:2]
    err = ops.square(ops.cast(y_pred, "float32") - target) * mask
    return ops.sum(err, axis=(1, 2, 3)) / ops.maximum(ops.sum(mask, axis=(1, 2, 3)), 1.0)


def masked_l1(y_true, y_pred):
    """Per-sample mean absolute error inside the mask (``[B, H, W, 2]`` target and mask)."""
    from keras import ops

    target, mask = y_true[..., :1], y_true[..., 1:2]
    err = ops.abs(ops.cast(y_pred, "float32") - target) * mask
    return ops.sum(err, axis=(1, 2, 3)) / ops.maximum(ops.sum(mask, axis=(1, 2, 3)), 1.0)


def masked_gradient_mse(y_true, y_pred):
    """Per-sample MSE of in-plane neighbour differences (y and x), where both neighbours are in the mask."""
    from keras import ops

    target, mask = y_true[..., :1], y_true[..., 1:2]
    pred = ops.cast(y_pred, "float32")
    total, count = 0.0, 0.0
    for axis in (1, 2):
        n = ops.shape(pred)[axis]
        lo, hi = (slice(None),) * axis + (slice(0, n - 1),), (slice(None),) * axis + (slice(1, n),)
        diff = (pred[hi] - pred[lo]) - (target[hi] - target[lo])
        both = mask[hi] * mask[lo]
        total = total + ops.sum(ops.square(diff) * both, axis=(1, 2, 3))
        count = count + ops.sum(both, axis=(1, 2, 3))
    return total / ops.maximum(count, 1.0)


def output_loss(training: TrainingConfig):
    """The loss of one output: masked MSE, plus the configured L1 and edge terms."""
    if training.l1_weight == 0 and training.gradient_weight == 0:
        return masked_mse
    l1, grad = training.l1_weight, training.gradient_weight

    def masked_mse_l1_edges(y_true, y_pred):
        loss = masked_mse(y_true, y_pred)
        if l1:
            loss = loss + l1 * masked_l1(y_true, y_pred)
        if grad:
            loss = loss + grad * masked_gradient_mse(y_true, y_pred)
        return loss

    return masked_mse_l1_edges


def build_training_model(
    network: NetworkConfig, training: TrainingConfig, *, mixed: bool = False, init_weights: Path | None = None
):
    """The compiled two-output U-Net (Adam, the two-term loss), optionally started from saved weights."""
    import keras

    from models.unet import build_unet25d

    keras.mixed_precision.set_dtype_policy("mixed_float16" if mixed else "float32")
    try:
        model = build_unet25d(network)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    if init_weights is not None:
        _load_initial(model, Path(init_weights))
    loss = output_loss(training)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate_schedule(training)),
        loss=[loss, loss],
        loss_weights=list(training.loss_weights),
    )
    return model


def learning_rate_schedule(training: TrainingConfig):
    """Adam's learning rate: a number (constant) or a Keras cosine decay over the planned iterations."""
    import keras

    if training.learning_rate_schedule == "constant":
        return training.learning_rate
    return keras.optimizers.schedules.CosineDecay(
        training.learning_rate, decay_steps=training.iterations, alpha=training.final_learning_rate_fraction
    )


def _load_initial(model, path: Path) -> None:
    import keras

    source = path / "model.keras" if path.is_dir() else path
    try:
        start = keras.saving.load_model(source, compile=False)
        model.set_weights(start.get_weights())
    except (OSError, ValueError) as exc:
        raise TrainingError(f"cannot start from {source}: {exc}") from exc


class EdgeTileSampler(TileSampler):
    """A ``TileSampler`` that picks a share of its tiles for strong target edges (pore walls)."""

    def __init__(self, *args: Any, fraction: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fraction = fraction
        gy, gx = np.gradient(self.target, axis=(1, 2))
        self.edges = (np.hypot(gy, gx) * self.mask).astype(np.float32)

    def random_position(self) -> tuple[int, int, int]:
        if self.rng.random() >= self.fraction:
            return super().random_position()
        t, draw = self.tile, super().random_position
        candidates = [draw() for _ in range(EDGE_CANDIDATES)]
        scores = [float(self.edges[z, y : y + t, x : x + t].mean()) for z, y, x in candidates]
        return candidates[int(np.argmax(scores))]


def predict_slices(model, stacks_zyx: np.ndarray, slices: int, z_range: tuple[int, int], multiple: int) -> np.ndarray:
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


@dataclass
class EarlyStopping:
    """Keeps the best weights; says stop after ``patience`` checks without a relative gain of ``min_improvement``."""

    patience: int
    min_improvement: float
    min_iterations: int
    best_val: float = np.inf
    best_iteration: int = 0
    best_weights: list = field(default_factory=list)
    checks_without_gain: int = 0

    def update(self, iteration: int, val_loss: float, model) -> bool:
        """Record one validation check; True when training should stop."""
        if val_loss < self.best_val * (1.0 - self.min_improvement):
            self.best_val, self.best_iteration, self.best_weights = val_loss, iteration, model.get_weights()
            self.checks_without_gain = 0
            return False
        self.checks_without_gain += 1
        return self.checks_without_gain >= self.patience and iteration >= self.min_iterations


@dataclass
class _Fit:
    """What the loop leaves: the curve, the best weights and where it stopped."""

    curve: list[CurvePoint]
    stopper: EarlyStopping
    iterations_run: int
    stopped_early: bool


def _fit(
    model,
    sampler: TileSampler,
    val_batch,
    training: TrainingConfig,
    norm: Normalisation,
    rng: np.random.Generator,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    on_check: CheckCallback | None,
) -> _Fit:
    """The training loop: one batch per iteration, a validation check every ``validation_interval``."""
    from models.device import release_memory

    stopper = EarlyStopping(
        training.patience, training.min_improvement, training.min_iterations, best_weights=model.get_weights()
    )
    curve: list[CurvePoint] = []
    recent: list[float] = []
    iteration = 0
    for iteration in range(1, training.iterations + 1):
        if cancel is not None:
            cancel.raise_if_cancelled("training")
        x, y, m = augment(*sampler.batch(training.batch_size), training.augmentation, rng)
        ym = np.concatenate([y, m], axis=-1)
        loss = float(np.ravel(model.train_on_batch(x, [ym, ym]))[0])
        if not np.isfinite(loss):
            release_memory()
            raise TrainingError(f"training diverged at iteration {iteration} (loss {loss})", {"iteration": iteration})
        recent.append(loss)
        if iteration % training.validation_interval == 0 or iteration == training.iterations:
            val = _validation_loss(model, val_batch)
            curve.append(CurvePoint(iteration=iteration, train_loss=float(np.mean(recent)), val_loss=val))
            recent = []
            training_step(progress, iteration, training.iterations, loss=curve[-1].train_loss, val_loss=val)
            if on_check is not None:
                on_check(iteration, model, norm)
            if stopper.update(iteration, val, model):
                return _Fit(curve, stopper, iteration, True)
        elif iteration % 10 == 0:
            training_step(progress, iteration, training.iterations, loss=loss)
    return _Fit(curve, stopper, iteration, False)


def _final_model(network: NetworkConfig, weights: list):
    """A fresh float32 model holding ``weights`` (the training session and accelerator memory can go)."""
    import keras

    from models.device import release_memory
    from models.unet import build_unet25d

    release_memory()
    keras.mixed_precision.set_dtype_policy("float32")
    final = build_unet25d(network)
    final.set_weights(weights)
    return final


def _validation_figures(
    model,
    network: NetworkConfig,
    norm: Normalisation,
    x_all: np.ndarray,
    inputs: np.ndarray,
    target: np.ndarray,
    mask: np.ndarray,
    slab: tuple[int, int],
) -> ValidationFigures:
    """PSNR/SSIM of the model and of its input (``x_all`` normalised) on the held-out slab, inside the mask."""
    predicted = norm.invert(predict_slices(model, x_all, network.slices, slab, network.pad_multiple_px))
    return slab_figures(predicted, inputs, target, mask, slab)


def _check_inputs(inputs: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    if inputs.ndim != 3 or inputs.shape != target.shape:
        raise InputError(
            None, f"inputs and target must be [z, y, x] volumes of one shape (got {inputs.shape} and {target.shape})"
        )
    mask = np.broadcast_to(np.asarray(mask, bool), inputs.shape)
    if not mask.any():
        raise InputError(None, "the valid field-of-view mask is empty")
    if not (np.isfinite(inputs).all() and np.isfinite(target).all()):
        raise InputError(None, "inputs or target contain NaN or infinite values")
    return mask


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
    on_check: CheckCallback | None = None,
) -> TrainedModel:
    """Train on ``inputs`` (scout on the zoom grid) -> ``target`` (zoom), both ``[z, y, x]``, inside ``mask``.

    ``on_check(iteration, model, normalisation)`` runs after every validation check (benchmarks score there).
    """
    import keras

    from models.device import accelerator_present

    started = time.perf_counter()
    mask = _check_inputs(inputs, target, mask)
    nz, ny, nx = inputs.shape
    z0, z1 = validation_slab(nz, training.validation_fraction, validation_z)
    train_z = np.array([z for z in range(nz) if not z0 <= z < z1 and mask[z].any()])
    if train_z.size == 0:
        raise InputError(None, f"no training slices left outside the validation slab {z0}:{z1}")
    tile = fit_tile(training.tile_px, (ny, nx), network.pad_multiple_px)

    norm = Normalisation.from_percentiles(inputs, mask, training.normalisation_percentiles)
    x_all, y_all, mask_f = norm.apply(inputs), norm.apply(target), mask.astype(np.float32)
    rng = np.random.default_rng(training.seed)
    tiles = (x_all, y_all, mask_f, network.slices, tile)
    if training.edge_tile_fraction > 0:
        sampler = EdgeTileSampler(
            *tiles, train_z, training.min_mask_fraction, rng, fraction=training.edge_tile_fraction
        )
    else:
        sampler = TileSampler(*tiles, train_z, training.min_mask_fraction, rng)
    val_batch = TileSampler(*tiles, np.arange(z0, z1), 0.0, rng).fixed_batch(VALIDATION_TILES)

    keras.utils.set_random_seed(training.seed)
    model = build_training_model(
        network, training, mixed=training.mixed_precision and accelerator_present(), init_weights=init_weights
    )
    fit = _fit(model, sampler, val_batch, training, norm, rng, progress, cancel, on_check)
    del model
    final = _final_model(network, fit.stopper.best_weights)
    validation = _validation_figures(final, network, norm, x_all, inputs, target, mask, (z0, z1))
    return TrainedModel(
        model=final,
        network=network,
        training=training,
        normalisation=norm,
        curve=fit.curve,
        validation=validation,
        iterations_run=fit.iterations_run,
        seconds=time.perf_counter() - started,
        stopped_early=fit.stopped_early,
        best_iteration=fit.stopper.best_iteration,
    )
