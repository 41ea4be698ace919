"""The Keras model itself as a runtime (last resort: slowest on CPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.errors import InputError
from models.runtimes.base import pad_to_multiple


class KerasRuntime:
    """The Keras model itself (last resort: slowest on CPU)."""

    name = "keras"

    def __init__(self, keras_path: Path) -> None:
        import keras

        from models.unet import CentreSlice, inference_model, pad_multiple_px  # noqa: F401  (registers the layer)

        try:
            model = keras.saving.load_model(keras_path, compile=False)
        except (OSError, ValueError) as exc:
            raise InputError(keras_path, f"Keras cannot load the model: {exc}") from exc
        self.model = inference_model(model)
        self.multiple = pad_multiple_px(model)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        padded, h, w = pad_to_multiple(batch, self.multiple)
        out = np.asarray(self.model.predict_on_batch(padded))
        return out[:, :h, :w, 0]
