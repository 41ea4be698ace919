"""Export a trained Keras model to ONNX (dynamic batch, height and width).

Only the TensorFlow backend exports dynamic spatial shapes reliably (via
tf2onnx), so a model trained under another backend must be saved as
``.keras`` and exported from a TensorFlow process. The exported graph takes
``[B, H, W, slices]`` with H and W multiples of ``pad_multiple_px`` (stored
in the ONNX metadata); the runtimes pad to that.
"""

from __future__ import annotations

from pathlib import Path

from models.errors import BackendUnavailable

PAD_KEY = "scoutzoom.pad_multiple_px"
SLICES_KEY = "scoutzoom.slices"


def export_onnx(model, path: Path) -> Path:
    """Write the ``final_out`` branch of ``model`` to ``path`` as float32 ONNX; returns ``path``."""
    import keras
    import onnx

    from models.unet import inference_model, pad_multiple_px

    if keras.backend.backend() != "tensorflow":
        raise BackendUnavailable(
            f"ONNX export needs the TensorFlow Keras backend (running {keras.backend.backend()}); "
            "save the model as .keras and export it with KERAS_BACKEND=tensorflow"
        )
    if any(getattr(w, "dtype", "float32") != "float32" for w in model.weights):
        raise BackendUnavailable("ONNX export needs a float32 model (rebuild it under the float32 policy)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    import numpy as np

    single = inference_model(model)
    multiple, slices = pad_multiple_px(model), int(single.inputs[0].shape[-1])
    single([np.zeros((1, multiple, multiple, slices), np.float32)])  # export needs a model that has been called
    single.export(str(path), format="onnx", verbose=False)
    graph = onnx.load(str(path))
    del graph.metadata_props[:]
    for key, value in ((PAD_KEY, multiple), (SLICES_KEY, slices)):
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.save(graph, str(path))
    return path
