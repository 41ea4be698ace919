"""A self-contained single-output Keras copy of a cached model, for the ``keras_v3`` weights of a package.

The cached ``model.keras`` is the two-output training model and uses our
``CentreSlice`` layer, which a tool without scoutzoom installed cannot load.
The packaged copy keeps ``final_out`` only and replaces ``CentreSlice`` by a
frozen 1x1 convolution whose kernel picks the centre channel (weight 1, the
others 0, no bias), so it holds built-in Keras layers only and computes the
same values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _replacement(layer):
    """Clone function: ``CentreSlice`` becomes a frozen 1x1 ``Conv2D``; other layers are rebuilt from their config."""
    import keras

    from models.unet import CentreSlice

    if isinstance(layer, CentreSlice):
        return keras.layers.Conv2D(1, 1, use_bias=False, trainable=False, dtype="float32", name=layer.name)
    return layer.__class__.from_config(layer.get_config())


def portable_inference_model(model):
    """The ``final_out`` model with built-in layers only, with ``model``'s weights."""
    import keras

    from models.unet import CentreSlice, inference_model

    single = inference_model(model)
    clone = keras.models.clone_model(single, clone_function=_replacement)
    for layer in clone.layers:
        source = single.get_layer(layer.name)
        if isinstance(source, CentreSlice):
            channels = int(source.input.shape[-1])
            kernel = np.zeros((1, 1, channels, 1), np.float32)
            kernel[0, 0, channels // 2, 0] = 1.0
            layer.set_weights([kernel])
        elif source.weights:
            layer.set_weights(source.get_weights())
    return clone


def write_portable_keras(cached_keras: Path, path: Path) -> Path:
    """Load the cached ``model.keras`` and save its portable inference copy to ``path`` (``.keras``)."""
    import keras

    from models.unet import CentreSlice  # noqa: F401  (registers the layer the cached model uses)

    model = keras.saving.load_model(cached_keras, compile=False)
    portable_inference_model(model).save(path)
    return path
