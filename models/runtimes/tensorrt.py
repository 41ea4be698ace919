"""TensorRT runtime (optional): one engine per model and padded batch shape, cached beside the ONNX file.

Used only when ``tensorrt`` and ``cuda-python`` import and a CUDA device
exists. Engines are built with FP16 first; if FP16 disagrees with the injected
float32 reference (ONNX Runtime on CPU) on the first batch by more than ``FP16_TOLERANCE`` of
the output range, an FP32 engine is built and used instead. The choice and the
engine are cached on disk, so a shape is built once per model. Written to the
TensorRT 10 Python API (``execute_async_v3``, named I/O tensors).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from models.atomic import write_bytes_atomic, write_text_atomic
from models.errors import BackendUnavailable
from models.runtimes.base import EngineCallback, onnx_metadata, pad_to_multiple

FP16_TOLERANCE = 1e-2


def _cudart() -> Any:
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
    except ImportError:
        from cuda import cudart  # type: ignore[no-redef]  # older cuda-python
    return cudart


def tensorrt_unavailable_reason() -> str | None:
    """``None`` when TensorRT can run here, else why not."""
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return "tensorrt is not installed"
    try:
        cudart = _cudart()
    except ImportError:
        return "cuda-python is not installed (needed for TensorRT device buffers)"
    err, count = cudart.cudaGetDeviceCount()
    if int(err) != 0 or count == 0:
        return "no CUDA device"
    return None


def _check(result: Any) -> Any:
    """Unwrap a cuda-python ``(error, value...)`` tuple, raising on error."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise BackendUnavailable(f"CUDA call failed: {err}")
    return values[0] if len(values) == 1 else tuple(values)


class _Engine:
    """One deserialised engine with device buffers for one fixed input shape."""

    def __init__(self, serialized: bytes, shape: tuple[int, ...]) -> None:
        import tensorrt as trt

        self.cudart = _cudart()
        self.engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(serialized)
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.input = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
        self.output = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT)
        self.context.set_input_shape(self.input, shape)
        self.out_shape = tuple(self.context.get_tensor_shape(self.output))
        self.in_bytes = int(np.prod(shape)) * 4
        self.out_bytes = int(np.prod(self.out_shape)) * 4
        self.d_in = _check(self.cudart.cudaMalloc(self.in_bytes))
        self.d_out = _check(self.cudart.cudaMalloc(self.out_bytes))
        self.stream = _check(self.cudart.cudaStreamCreate())
        self.context.set_tensor_address(self.input, int(self.d_in))
        self.context.set_tensor_address(self.output, int(self.d_out))

    def run(self, batch: np.ndarray) -> np.ndarray:
        cudart = self.cudart
        out = np.empty(self.out_shape, np.float32)
        _check(
            cudart.cudaMemcpyAsync(
                self.d_in, batch.ctypes.data, self.in_bytes, cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, self.stream
            )
        )
        if not self.context.execute_async_v3(int(self.stream)):
            raise BackendUnavailable("TensorRT execution failed")
        _check(
            cudart.cudaMemcpyAsync(
                out.ctypes.data, self.d_out, self.out_bytes, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost, self.stream
            )
        )
        _check(cudart.cudaStreamSynchronize(self.stream))
        return out

    def __del__(self) -> None:
        for ptr in (getattr(self, "d_in", None), getattr(self, "d_out", None)):
            if ptr is not None:
                self.cudart.cudaFree(ptr)


def build_engine(onnx_path: Path, shape: tuple[int, ...], fp16: bool) -> bytes:
    """Serialised engine for exactly ``shape`` (min = opt = max of the optimisation profile)."""
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BackendUnavailable(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    profile.set_shape(network.get_input(0).name, shape, shape, shape)
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendUnavailable(f"TensorRT could not build an engine for {onnx_path} at {shape}")
    return bytes(serialized)


class TensorRTRuntime:
    """``InferenceRuntime`` on TensorRT; pads H/W like the others (see :mod:`models.runtimes.base`)."""

    name = "tensorrt"

    def __init__(
        self,
        onnx_path: Path,
        *,
        fp32_reference: Callable[[np.ndarray], np.ndarray],
        on_engine_built: EngineCallback | None = None,
    ) -> None:
        reason = tensorrt_unavailable_reason()
        if reason is not None:
            raise BackendUnavailable(f"TensorRT unavailable: {reason}")
        self.onnx_path = Path(onnx_path)
        self.multiple = int(onnx_metadata(self.onnx_path).get("scoutzoom.pad_multiple_px", "1"))
        self.engines: dict[tuple[int, ...], _Engine] = {}
        self.fp32_reference = fp32_reference
        self.on_engine_built = on_engine_built

    def _engine_path(self, shape: tuple[int, ...], precision: str) -> Path:
        tag = "x".join(str(s) for s in shape)
        return self.onnx_path.with_name(f"{self.onnx_path.stem}.{tag}.{precision}.engine")

    def _load(self, shape: tuple[int, ...], batch: np.ndarray) -> _Engine:
        choice_path = self._engine_path(shape, "precision").with_suffix(".json")
        if choice_path.exists():
            precision = json.loads(choice_path.read_text())["precision"]
            return _Engine(self._cached(shape, precision), shape)
        engine = _Engine(self._cached(shape, "fp16"), shape)
        reference = self.fp32_reference(batch)
        got = engine.run(batch)[..., 0]
        span = float(np.ptp(reference)) or 1.0
        error = float(np.max(np.abs(got - reference))) / span
        precision = "fp16" if error <= FP16_TOLERANCE else "fp32"
        if precision == "fp32":
            engine = _Engine(self._cached(shape, "fp32"), shape)
        write_text_atomic(choice_path, json.dumps({"precision": precision, "fp16_relative_error": error}))
        return engine

    def _cached(self, shape: tuple[int, ...], precision: str) -> bytes:
        path = self._engine_path(shape, precision)
        if path.exists():
            return path.read_bytes()
        serialized = build_engine(self.onnx_path, shape, fp16=precision == "fp16")
        write_bytes_atomic(path, serialized)
        if self.on_engine_built is not None:
            self.on_engine_built(path, shape, precision)
        return serialized

    def predict(self, batch: np.ndarray) -> np.ndarray:
        padded, h, w = pad_to_multiple(batch, self.multiple)
        shape = tuple(padded.shape)
        if shape not in self.engines:
            self.engines[shape] = self._load(shape, padded)
        return self.engines[shape].run(padded)[:, :h, :w, 0]
