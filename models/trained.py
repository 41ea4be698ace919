"""A trained model and what is recorded with it: normalisation, loss curve, validation figures.

These records are the one copy: the model card (:mod:`models.cache.card`) and ``report.json`` store them as they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from models.config import NetworkConfig, TrainingConfig


class Normalisation(BaseModel):
    """``normalised = (value - offset) / scale``; robust percentiles of the input set it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    offset: float
    scale: float = Field(gt=0)

    @classmethod
    def from_percentiles(
        cls, volume: np.ndarray, mask: np.ndarray | None, percentiles: tuple[float, float]
    ) -> Normalisation:
        values = volume[mask] if mask is not None and mask.any() else volume.ravel()
        low, high = np.percentile(values, percentiles)
        scale = float(high - low)
        return cls(offset=float(low), scale=scale if scale > 0 else 1.0)

    def apply(self, values: np.ndarray) -> np.ndarray:
        return ((np.asarray(values, np.float32) - np.float32(self.offset)) / np.float32(self.scale)).astype(np.float32)

    def invert(self, values: np.ndarray) -> np.ndarray:
        return (np.asarray(values, np.float32) * np.float32(self.scale) + np.float32(self.offset)).astype(np.float32)


class CurvePoint(BaseModel):
    """One point of the training curve (normalised MSE-based loss, no unit)."""

    model_config = ConfigDict(extra="forbid")

    iteration: int = Field(ge=0)
    train_loss: float
    val_loss: float | None = None


class ValidationFigures(BaseModel):
    """Quality on the held-out slab (never trained on), inside the mask; ``*_input`` is the scout itself there.

    ``slab_z`` is the slab's ``[z0, z1)`` on the zoom grid and ``voxels`` its masked voxel count.
    """

    model_config = ConfigDict(extra="allow")

    psnr_db: float
    ssim: float
    psnr_input_db: float
    ssim_input: float
    slab_z: tuple[int, int] | None = None
    voxels: int | None = None

    @property
    def gain_db(self) -> float:
        """PSNR gain of the model's output over its input (dB)."""
        return self.psnr_db - self.psnr_input_db


def slab_figures(
    predicted: np.ndarray, inputs: np.ndarray, target: np.ndarray, mask: np.ndarray, slab: tuple[int, int]
) -> ValidationFigures:
    """PSNR/SSIM of a prediction of ``slab`` (``[z0, z1)``) and of the input there, against ``target`` inside ``mask``.

    ``predicted`` covers the slab only; ``inputs``, ``target`` and ``mask`` are whole volumes. One range (the
    target's inside the mask) for all four figures, so model and input compare like with like.
    """
    from models.quality import data_range, psnr_db, ssim

    z0, z1 = slab
    held_mask, held_target = mask[z0:z1], target[z0:z1]
    span = data_range(held_target, held_mask)
    return ValidationFigures(
        psnr_db=psnr_db(predicted, held_target, held_mask, span),
        ssim=ssim(predicted, held_target, held_mask, span),
        psnr_input_db=psnr_db(inputs[z0:z1], held_target, held_mask, span),
        ssim_input=ssim(inputs[z0:z1], held_target, held_mask, span),
        slab_z=(z0, z1),
        voxels=int(held_mask.sum()),
    )


class TrainingRecord(BaseModel):
    """Everything but the weights: written as ``training.json`` beside the model."""

    network: NetworkConfig
    training: TrainingConfig
    normalisation: Normalisation
    curve: list[CurvePoint]
    validation: ValidationFigures | None
    iterations_run: int
    seconds: float
    stopped_early: bool
    best_iteration: int


@dataclass
class TrainedModel:
    """A trained two-output U-Net (``model``) and its record."""

    model: Any  # keras.Model with outputs (unet_out, final_out)
    network: NetworkConfig
    training: TrainingConfig
    normalisation: Normalisation
    curve: list[CurvePoint] = field(default_factory=list)
    validation: ValidationFigures | None = None
    iterations_run: int = 0
    seconds: float = 0.0
    stopped_early: bool = False
    best_iteration: int = 0

    @property
    def record(self) -> TrainingRecord:
        return TrainingRecord(
            network=self.network,
            training=self.training,
            normalisation=self.normalisation,
            curve=self.curve,
            validation=self.validation,
            iterations_run=self.iterations_run,
            seconds=self.seconds,
            stopped_early=self.stopped_early,
            best_iteration=self.best_iteration,
        )

    def predict(self, stacks: np.ndarray) -> np.ndarray:
        """``final_out`` for normalised ``[B, H, W, slices]`` stacks (H, W multiples of 2**depth) -> ``[B, H, W]``."""
        outputs = self.model.predict_on_batch(np.asarray(stacks, np.float32))
        final = outputs[-1] if isinstance(outputs, (list, tuple)) else outputs
        return np.asarray(final)[..., 0]

    def save(self, directory: Path) -> dict[str, Path]:
        """Write ``model.keras``, ``model.onnx``, ``normalisation.json`` and ``training.json`` into ``directory``."""
        from models.export import export_onnx

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = {
            "keras": directory / "model.keras",
            "onnx": directory / "model.onnx",
            "normalisation": directory / "normalisation.json",
            "training": directory / "training.json",
        }
        self.model.save(paths["keras"])
        export_onnx(self.model, paths["onnx"])
        paths["normalisation"].write_text(self.normalisation.model_dump_json(indent=2))
        paths["training"].write_text(self.record.model_dump_json(indent=2))
        return paths


def load_trained(directory: Path) -> TrainedModel:
    """Read back what :meth:`TrainedModel.save` wrote (raises ``InputError`` if it cannot)."""
    import keras

    from models.errors import InputError
    from models.unet import CentreSlice  # noqa: F401  (registers the custom layer)

    directory = Path(directory)
    try:
        record = TrainingRecord.model_validate(json.loads((directory / "training.json").read_text()))
        model = keras.saving.load_model(directory / "model.keras")
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(directory, f"cannot load trained model: {exc}") from exc
    return TrainedModel(model=model, **{k: getattr(record, k) for k in TrainingRecord.model_fields})
