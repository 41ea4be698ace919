"""Inference runtimes behind one interface: TensorRT, ONNX Runtime, Keras.

Every runtime takes normalised ``[B, H, W, slices]`` float32 stacks of any H
and W and returns ``[B, H, W]``: it reflect-pads H and W up to the network's
multiple (``2**depth``, read from the ONNX metadata) and crops the result, so
the tiler may use any tile size. ``load_runtime`` picks the best available one.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from pipeline.errors import BackendUnavailable, InputError

RuntimeName = Literal["auto", "tensorrt", "onnxruntime", "keras"]


@runtime_checkable
class InferenceRuntime(Protocol):
    name: str

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """``[B, H, W, slices]`` normalised stacks -> ``[B, H, W]`` normalised centre-slice predictions."""
        ...


def pad_to_multiple(batch: np.ndarray, multiple: int) -> tuple[np.ndarray, int, int]:
    """Reflect-pad H and W (bottom/right) up to a multiple; returns the padded batch and the original H, W."""
    _, h, w, _ = batch.shape
    pad_h, pad_w = (-h) % multiple, (-w) % multiple
    if pad_h or pad_w:
        mode = "reflect" if pad_h < h and pad_w < w else "symmetric"
        batch = np.pad(batch, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode=mode)
    return np.ascontiguousarray(batch, np.float32), h, w


def onnx_metadata(onnx_path: Path) -> dict[str, str]:
    import onnx

    return {p.key: p.value for p in onnx.load(str(onnx_path), load_external_data=False).metadata_props}


class OnnxRuntime:
    """ONNX Runtime: CUDA execution provider when present, else CPU with ``threads`` intra-op threads."""

    def __init__(self, onnx_path: Path, *, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or max(1, min(os.cpu_count() or 1, 16))
        options.inter_op_num_threads = 1
        available = ort.get_available_providers()
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        try:
            self.session = ort.InferenceSession(str(onnx_path), options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise InputError(onnx_path, f"ONNX Runtime cannot load the model: {exc}") from exc
        self.input_name = self.session.get_inputs()[0].name
        self.multiple = int(onnx_metadata(onnx_path).get("scoutzoom.pad_multiple_px", "1"))
        self.provider = self.session.get_providers()[0]
        self.name = "onnxruntime-cuda" if self.provider == "CUDAExecutionProvider" else "onnxruntime-cpu"

    def predict(self, batch: np.ndarray) -> np.ndarray:
        padded, h, w = pad_to_multiple(batch, self.multiple)
        out = self.session.run(None, {self.input_name: padded})[0]
        return out[:, :h, :w, 0]


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


def runtime_availability() -> dict[str, str | None]:
    """For each runtime, ``None`` if usable here, else the reason it is not."""
    from models.tensorrt_runtime import tensorrt_unavailable_reason

    status: dict[str, str | None] = {"tensorrt": tensorrt_unavailable_reason()}
    status["onnxruntime"] = None if importlib.util.find_spec("onnxruntime") else "onnxruntime is not installed"
    status["keras"] = None if importlib.util.find_spec("keras") else "keras is not installed"
    return status


def load_runtime(
    onnx_path: Path,
    *,
    keras_path: Path | None = None,
    prefer: RuntimeName = "auto",
    threads: int | None = None,
) -> InferenceRuntime:
    """The preferred runtime, or (``auto``) the first that works of TensorRT, ONNX Runtime, Keras.

    Naming a runtime that is unavailable raises ``BackendUnavailable`` with the reason.
    """
    availability = runtime_availability()
    order = ["tensorrt", "onnxruntime", "keras"] if prefer == "auto" else [prefer]
    reasons = []
    for name in order:
        if name == "keras" and keras_path is None:
            reasons.append("keras: no .keras file given")
            continue
        if availability[name] is not None:
            reasons.append(f"{name}: {availability[name]}")
            continue
        if name == "tensorrt":
            from models.tensorrt_runtime import TensorRTRuntime

            return TensorRTRuntime(Path(onnx_path))
        if name == "onnxruntime":
            return OnnxRuntime(Path(onnx_path), threads=threads)
        return KerasRuntime(Path(keras_path))  # type: ignore[arg-type]
    raise BackendUnavailable("no inference runtime available: " + "; ".join(reasons))
