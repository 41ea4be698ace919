"""The 2.5D U-Net: ``slices`` adjacent slices in as channels, the centre slice out.

Written with ``keras.layers`` and ``keras.ops`` only, so the same code runs on
the TensorFlow (default), JAX and PyTorch backends. Two outputs are returned:
``unet_out`` (the U-Net proper) and ``final_out`` (after a small refinement
head); the training loss weighs both, inference uses ``final_out``.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from models.config import NetworkConfig


@keras.saving.register_keras_serializable(package="scoutzoom")
class CentreSlice(layers.Layer):
    """The centre channel of a ``[B, H, W, slices]`` tensor, kept as ``[B, H, W, 1]``."""

    def call(self, inputs):  # type: ignore[override]
        centre = ops.shape(inputs)[-1] // 2
        return ops.expand_dims(ops.take(inputs, centre, axis=-1), -1)

    def compute_output_shape(self, input_shape):  # type: ignore[override]
        return (*input_shape[:-1], 1)


def _conv_block(x, filters: int, name: str):
    """Two 3x3 convolutions with ReLU (the U-Net's basic unit)."""
    for i in (1, 2):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_conv{i}")(x)
    return x


def build_unet25d(net: NetworkConfig) -> keras.Model:
    """A 2.5D U-Net with a refinement head; input ``[B, H, W, slices]`` float32.

    H and W must be multiples of ``net.pad_multiple_px`` (``2**depth``). With
    ``net.residual`` both outputs are the centre input slice plus a learned
    correction (measured to train faster and better on scout->zoom pairs).
    """
    inputs = keras.Input(shape=(None, None, net.slices), name="slices")
    x = inputs
    skips = []
    for level in range(net.depth):
        x = _conv_block(x, net.base_filters * 2**level, f"down{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"pool{level}")(x)
    x = _conv_block(x, net.base_filters * 2**net.depth, "bottom")
    for level in reversed(range(net.depth)):
        filters = net.base_filters * 2**level
        x = layers.Conv2DTranspose(filters, 2, strides=2, padding="same", name=f"up{level}")(x)
        x = layers.Concatenate(name=f"skip{level}")([x, skips[level]])
        x = _conv_block(x, filters, f"dec{level}")
    unet = layers.Conv2D(1, 1, dtype="float32", name="unet_proj")(x)
    centre = CentreSlice(name="centre", dtype="float32")(inputs) if net.residual else None
    unet_out = (
        layers.Add(name="unet_out", dtype="float32")([unet, centre])
        if centre is not None
        else (layers.Identity(name="unet_out", dtype="float32")(unet))
    )

    h = layers.Concatenate(name="head_in")([unet_out, inputs])
    for i in range(net.head_layers):
        h = layers.Conv2D(net.base_filters, 3, padding="same", activation="relu", name=f"head{i}")(h)
    correction = layers.Conv2D(1, 3 if net.head_layers == 0 else 1, padding="same", dtype="float32", name="head_proj")(
        h
    )
    final_out = layers.Add(name="final_out", dtype="float32")([unet_out, correction])
    return keras.Model(inputs, [unet_out, final_out], name="unet25d")


def inference_model(model: keras.Model) -> keras.Model:
    """The single-output (``final_out``) view of a two-output training model."""
    if len(model.outputs) == 1:
        return model
    return keras.Model(model.inputs, model.outputs[-1], name=f"{model.name}_final")


def pad_multiple_px(model: keras.Model) -> int:
    """2**(number of 2x poolings): tiles must have H and W multiples of this."""
    pools = sum(1 for layer in model.layers if isinstance(layer, layers.MaxPooling2D))
    return 2**pools
