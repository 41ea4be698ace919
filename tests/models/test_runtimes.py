"""ONNX export and runtimes: ONNX Runtime agrees with Keras, on a tile size never seen in training."""

from __future__ import annotations

import numpy as np
import pytest

from models.errors import BackendUnavailable
from models.runtimes import InferenceRuntime, load_runtime, runtime_availability
from models.runtimes.keras import KerasRuntime


@pytest.mark.parametrize("hw", [(48, 48), (70, 53), (130, 96)])
def test_onnxruntime_matches_keras_on_unseen_tile_sizes(quick_model, hw):
    _, paths = quick_model
    ort_rt = load_runtime(paths["onnx"], prefer="onnxruntime", threads=2)
    keras_rt = KerasRuntime(paths["keras"])
    x = np.random.default_rng(4).normal(0.5, 0.3, (3, *hw, 5)).astype(np.float32)
    a, b = ort_rt.predict(x), keras_rt.predict(x)
    assert a.shape == b.shape == (3, *hw)
    assert np.max(np.abs(a - b)) / np.ptp(b) < 1e-3
    assert isinstance(ort_rt, InferenceRuntime) and ort_rt.name == "onnxruntime-cpu"


def test_auto_picks_onnxruntime_without_a_gpu(quick_model):
    _, paths = quick_model
    availability = runtime_availability()
    assert availability["onnxruntime"] is None
    if availability["tensorrt"] is not None:
        assert load_runtime(paths["onnx"], keras_path=paths["keras"]).name.startswith("onnxruntime")
        with pytest.raises(BackendUnavailable, match="tensorrt"):
            load_runtime(paths["onnx"], prefer="tensorrt")


def test_keras_needs_a_keras_file(quick_model):
    _, paths = quick_model
    with pytest.raises(BackendUnavailable, match="keras"):
        load_runtime(paths["onnx"], prefer="keras")


@pytest.mark.gpu
def test_tensorrt_matches_onnxruntime(quick_model):
    reason = runtime_availability()["tensorrt"]
    if reason is not None:
        pytest.skip(f"TensorRT unavailable here: {reason}")
    _, paths = quick_model
    trt_rt = load_runtime(paths["onnx"], prefer="tensorrt")
    ort_rt = load_runtime(paths["onnx"], prefer="onnxruntime")
    x = np.random.default_rng(5).normal(0.5, 0.3, (4, 64, 64, 5)).astype(np.float32)
    a, b = trt_rt.predict(x), ort_rt.predict(x)
    assert np.max(np.abs(a - b)) / np.ptp(b) < 1e-2
