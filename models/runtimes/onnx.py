"""ONNX Runtime: the default runtime on CPU (and on CUDA when its provider is installed)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from models.errors import InputError
from models.runtimes.base import onnx_metadata, pad_to_multiple


class OnnxRuntime:
    """ONNX Runtime: CUDA execution provider when present (unless ``cpu_only``), else CPU with ``threads`` intra-op
    threads."""

    def __init__(self, onnx_path: Path, *, threads: int | None = None, cpu_only: bool = False) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or max(1, min(os.cpu_count() or 1, 16))
        options.inter_op_num_threads = 1
        available = ort.get_available_providers()
        wanted = ("CPUExecutionProvider",) if cpu_only else ("CUDAExecutionProvider", "CPUExecutionProvider")
        providers = [p for p in wanted if p in available]
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
