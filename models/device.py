"""Which Keras backend runs and whether it has an accelerator; memory release after training."""

from __future__ import annotations

import gc


def accelerator_present() -> bool:
    """True when the active Keras backend sees a GPU (or other non-CPU device)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return any(device.platform != "cpu" for device in jax.devices())
    if backend == "torch":
        import torch

        return bool(torch.cuda.is_available())
    return False


def release_memory() -> None:
    """Drop every graph/model Keras holds and collect garbage (returns accelerator memory)."""
    import keras

    keras.backend.clear_session()
    gc.collect()
