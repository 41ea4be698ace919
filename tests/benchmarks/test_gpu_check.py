"""benchmarks/gpu_check.py on CPU: the numba-cuda back-projection on numba's CUDA simulator against the numba CPU
one, and (slow) every section at the small sizes on the TensorFlow backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_check(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a child with the small sizes (and ``env``), OUT in ``tmp_path``."""
    child_env = {**os.environ, "GPU_CHECK_SMALL": "1", "OUT": str(tmp_path), "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=child_env, capture_output=True, text=True, timeout=600
    )


def test_cuda_backprojection_matches_the_cpu_one_on_the_simulator(tmp_path: Path) -> None:
    code = "import json; from benchmarks.gpu_check import fdk; print(json.dumps(fdk()))"
    done = run_check(code, tmp_path, NUMBA_ENABLE_CUDASIM="1")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["simulator"] and result["agrees"]
    assert result["check"]["max_diff_of_range"] < 1e-5  # 2.5e-7 measured when written


@pytest.mark.slow
def test_without_a_device_or_the_simulator_the_fdk_section_says_why(tmp_path: Path) -> None:
    code = "import json; from benchmarks.gpu_check import fdk; print(json.dumps(fdk()))"
    done = run_check(code, tmp_path, NUMBA_ENABLE_CUDASIM="0")
    assert done.returncode == 0, done.stderr
    assert "no CUDA device" in json.loads(done.stdout.strip().splitlines()[-1])["skipped"]


@pytest.mark.slow
def test_the_script_runs_every_section_at_the_small_sizes(tmp_path: Path) -> None:
    """gpu_check.sh itself, with this venv's Python (keras and pydantic import: nothing to install)."""
    env = {**os.environ, "GPU_CHECK_SMALL": "1", "OUT": str(tmp_path), "NUMBA_ENABLE_CUDASIM": "1"}
    env.update(KERAS_BACKEND="tensorflow", PYTHON=sys.executable, GPU_CHECK_SITE=str(tmp_path / "site"))
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh")], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["environment"]["keras_backend"] == "tensorflow" and not report["environment"]["accelerator"]
    assert report["fdk"]["agrees"]
    assert report["training"]["steps_per_s"] > 0 and report["training"]["parameters"] > 1_000_000
    assert report["inference"]["voxels_per_s"] > 0
