"""Inference runtimes behind one interface (:mod:`models.runtimes.base`): TensorRT, ONNX Runtime, Keras.

``load_runtime`` picks the best available one; each lives in its own module
and is imported only when chosen, so a missing optional package costs nothing.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from models.errors import BackendUnavailable
from models.runtimes.base import EngineCallback, InferenceRuntime, RuntimeName, pad_to_multiple

__all__ = [
    "EngineCallback",
    "InferenceRuntime",
    "RuntimeName",
    "load_runtime",
    "pad_to_multiple",
    "runtime_availability",
]


def runtime_availability() -> dict[str, str | None]:
    """For each runtime, ``None`` if usable here, else the reason it is not."""
    from models.runtimes.tensorrt import tensorrt_unavailable_reason

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
    on_engine_built: EngineCallback | None = None,
) -> InferenceRuntime:
    """The preferred runtime, or (``auto``) the first that works of TensorRT, ONNX Runtime, Keras.

    ``threads``: intra-op threads of ONNX Runtime on CPU (``None``: all cores, at most 16).
    ``on_engine_built(path, shape, precision)`` is told of every TensorRT engine written (the
    model cache lists it on the card). Naming a runtime that is unavailable raises
    ``BackendUnavailable`` with the reason.
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
            from models.runtimes.onnx import OnnxRuntime
            from models.runtimes.tensorrt import TensorRTRuntime

            reference = OnnxRuntime(Path(onnx_path), threads=threads, cpu_only=True)
            return TensorRTRuntime(Path(onnx_path), fp32_reference=reference.predict, on_engine_built=on_engine_built)
        if name == "onnxruntime":
            from models.runtimes.onnx import OnnxRuntime

            return OnnxRuntime(Path(onnx_path), threads=threads)
        from models.runtimes.keras import KerasRuntime

        return KerasRuntime(Path(keras_path))  # type: ignore[arg-type]
    raise BackendUnavailable("no inference runtime available: " + "; ".join(reasons))
