"""What can run here: inference runtimes, ONNX Runtime's providers, Keras backends and the GPUs each one sees.

Every library that might touch a GPU is imported in a child process (a broken
CUDA install can abort its process, and TensorFlow, JAX and torch should not
share one), which prints one JSON line. ``scoutzoom doctor`` reports these.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel, Field

PROBE_TIMEOUT_S = 180.0  # TensorFlow's first import on 2 shared cores takes ~10 s; CUDA initialisation more
KERAS_BACKENDS = ("tensorflow", "jax", "torch")


class Check(BaseModel):
    """One component: usable or why not, and the accelerators it sees (empty: CPU only, ``device_note`` says why)."""

    name: str
    usable: bool
    reason: str | None = Field(None, description="why it is not usable (import error, no device, ...)")
    version: str | None = None
    devices: list[str] = Field(default_factory=list, description="accelerators this component sees")
    device_note: str | None = Field(None, description="why no accelerator is seen, when none is")


def installed(dist: str) -> str | None:
    """Version of the installed distribution ``dist`` (None when absent)."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def run_json_probe(code: str, env: dict[str, str] | None = None) -> tuple[dict | None, str | None]:
    """Run ``code`` in a child Python; (its last stdout line as JSON, None) or (None, why it failed)."""
    child_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
            env=child_env,
        )
    except subprocess.TimeoutExpired:
        return None, f"probe timed out after {PROBE_TIMEOUT_S:.0f} s"
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode == 0 and lines:
        return json.loads(lines[-1]), None
    errors = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()]
    reason = errors[-1] if errors else f"exit status {done.returncode}"
    if done.returncode < 0:
        reason = f"probe killed by signal {-done.returncode}: {reason}"
    return None, reason


_ORT_PROBE = """
import json
import numpy as np, onnx, onnxruntime as ort
from onnx import TensorProto, helper
out = {"version": ort.__version__, "providers": ort.get_available_providers(), "working": []}
gpu = [p for p in out["providers"] if p in ("CUDAExecutionProvider", "TensorrtExecutionProvider")]
if "CUDAExecutionProvider" in gpu:
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    try:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CUDAExecutionProvider"])
        session.run(None, {"x": np.ones(2, np.float32)})
        out["working"] = [p for p in session.get_providers() if p != "CPUExecutionProvider"]
    except Exception as error:
        out["error"] = str(error).splitlines()[0]
print(json.dumps(out))
"""


def onnxruntime_check() -> Check:
    """ONNX Runtime: its providers, and whether its CUDA provider runs a one-node model."""
    builds = {dist: installed(dist) for dist in ("onnxruntime", "onnxruntime-gpu")}
    if not any(builds.values()):
        return Check(name="onnxruntime", usable=False, reason="onnxruntime is not installed")
    result, reason = run_json_probe(_ORT_PROBE)
    if result is None:
        return Check(name="onnxruntime", usable=False, reason=f"import failed: {reason}")
    check = Check(name="onnxruntime", usable=True, version=result["version"], devices=result["working"])
    if not check.devices:
        providers = ", ".join(result["providers"])
        if "CUDAExecutionProvider" not in result["providers"]:
            note = f"CPU build (providers: {providers})"
            if builds["onnxruntime"] and builds["onnxruntime-gpu"]:
                note += "; onnxruntime shadows onnxruntime-gpu: reinstall onnxruntime-gpu alone (docs/gpu.md)"
        else:
            note = f"CUDAExecutionProvider did not run: {result.get('error', 'fell back to CPU')}"
        check.device_note = note
    return check


def keras_runtime_check() -> Check:
    """The Keras runtime (runs the saved .keras file on the configured Keras backend)."""
    if importlib.util.find_spec("keras") is None:
        return Check(name="keras", usable=False, reason="keras is not installed")
    return Check(name="keras", usable=True, version=installed("keras"), device_note="see keras_backends")


def tensorrt_check() -> Check:
    """TensorRT (with cuda-python), probed in a child process."""
    if importlib.util.find_spec("tensorrt") is None:
        return Check(name="tensorrt", usable=False, reason="tensorrt is not installed")
    code = (
        "import json\nfrom models.runtimes.tensorrt import tensorrt_unavailable_reason as r\n"
        "print(json.dumps({'reason': r()}))"
    )
    result, reason = run_json_probe(code)
    reason = reason if result is None else result["reason"]
    return Check(name="tensorrt", usable=reason is None, reason=reason, version=installed("tensorrt"))


_BACKEND_PROBES = {
    "tensorflow": (
        "import json, tensorflow as tf\n"
        "print(json.dumps({'version': tf.__version__, "
        "'devices': [d.name for d in tf.config.list_physical_devices('GPU')], "
        "'cuda': bool(tf.test.is_built_with_cuda())}))"
    ),
    "jax": (
        "import json, jax\n"
        "print(json.dumps({'version': jax.__version__, "
        "'devices': [f'{d.platform}:{d.id} {d.device_kind}' for d in jax.devices() if d.platform != 'cpu'], "
        "'cuda': any(d.platform == 'gpu' for d in jax.devices())}))"
    ),
    "torch": (
        "import json, torch\n"
        "n = torch.cuda.device_count() if torch.cuda.is_available() else 0\n"
        "print(json.dumps({'version': torch.__version__, "
        "'devices': [f'cuda:{i} {torch.cuda.get_device_name(i)}' for i in range(n)], "
        "'cuda': torch.version.cuda is not None}))"
    ),
}


def keras_backend_check(name: str) -> Check:
    """One Keras backend library (tensorflow, jax or torch): imports, and which GPUs it sees."""
    module = name
    if importlib.util.find_spec(module) is None:
        return Check(name=name, usable=False, reason=f"{module} is not installed")
    result, reason = run_json_probe(_BACKEND_PROBES[name])
    if result is None:
        return Check(name=name, usable=False, reason=f"import failed: {reason}")
    check = Check(name=name, usable=True, version=result["version"], devices=result["devices"])
    if not check.devices:
        note = "no GPU seen" if result["cuda"] else "CPU-only build"
        if name == "tensorflow" and installed("tensorflow-cpu") and installed("tensorflow"):
            note += "; tensorflow-cpu and tensorflow share files: reinstall tensorflow alone (docs/gpu.md)"
        elif name == "tensorflow" and installed("tensorflow-cpu"):
            note += " (tensorflow-cpu)"
        check.device_note = note
    return check


def configured_keras_backend() -> str:
    """The Keras backend a new process gets: ``KERAS_BACKEND``, else keras.json's, else tensorflow (Keras's rule)."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    try:
        return str(json.loads((home / "keras.json").read_text(encoding="utf-8")).get("backend", "tensorflow"))
    except (OSError, ValueError, AttributeError):
        return "tensorflow"
