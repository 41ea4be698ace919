"""Is a backend usable here? GPU libraries are probed in a subprocess, never in this process.

(ASTRA's CUDA FDK killed its process with SIGFPE on a machine without a GPU;
a probe must not be able to take the daemon down.)
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import subprocess
import sys
from collections.abc import Callable

_PROBE_TIMEOUT_S = 120.0
_TIMED_OUT = "probe timed out"
_answers: dict[str, str | None] = {}  # backend -> its probe's answer, for this process


def _remembered(backend: str, probe: Callable[[], str | None]) -> str | None:
    """``probe()``'s answer, asked once per process: what is installed does not change under a running process,
    and a GPU probe is a subprocess importing CUDA libraries (seconds). A timed-out probe is asked again next time
    (a busy machine is not a missing backend)."""
    if backend in _answers:
        return _answers[backend]
    answer = probe()
    if answer is None or not answer.startswith(_TIMED_OUT):
        _answers[backend] = answer
    return answer


_TIGRE_PROBE = """
import tigre, tigre.algorithms
assert callable(getattr(tigre.algorithms, "fdk", None)), "tigre.algorithms.fdk missing: not the CERN CT toolbox"
assert hasattr(tigre, "geometry"), "tigre.geometry missing: not the CERN CT toolbox"
from tigre.utilities.gpu import GpuIds
n = len(GpuIds())
assert n > 0, "TIGRE found no CUDA device"
print("ok", n)
"""

_RTK_CUDA_PROBE = """
import os
os.environ.setdefault("ITK_GLOBAL_DEFAULT_THREADER", "Pool")
import itk
from itk import RTK as rtk
assert hasattr(rtk, "CudaFDKConeBeamReconstructionFilter"), "this RTK build has no CUDA FDK"
image = rtk.CudaImage[itk.F, 3].New()
region = itk.ImageRegion[3]()
region.SetSize([2, 2, 2])
image.SetRegions(region)
image.Allocate()
print("ok")
"""


def _run_probe(code: str) -> str | None:
    """None if ``code`` ran and printed ``ok``; else the reason (last line of its error)."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=_PROBE_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return f"{_TIMED_OUT} after {_PROBE_TIMEOUT_S:.0f} s"
    if done.returncode == 0 and done.stdout.strip().startswith("ok"):
        return None
    lines = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()]
    reason = lines[-1] if lines else f"exit status {done.returncode}"
    if done.returncode < 0:
        reason = f"probe killed by signal {-done.returncode}: {reason}"
    return reason


def tigre_unavailable() -> str | None:
    """Why TIGRE cannot be used (None if it can); probed once per process."""
    return _remembered("tigre", _tigre_unavailable)


def rtk_cuda_unavailable() -> str | None:
    """Why RTK's CUDA FDK cannot be used (None if it can); probed once per process."""
    return _remembered("rtk-cuda", _rtk_cuda_unavailable)


def _tigre_unavailable() -> str | None:
    if importlib.util.find_spec("tigre") is None:
        return (
            "TIGRE (CERN CT toolbox) is not installed; it is not on PyPI (the PyPI 'tigre' is unrelated): build it "
            "from github.com/CERN/TIGRE with CUDA"
        )
    return _run_probe(_TIGRE_PROBE)


def _rtk_cuda_unavailable() -> str | None:
    names = {dist.metadata["Name"].lower() for dist in importlib.metadata.distributions() if dist.metadata["Name"]}
    if not any(name.startswith("itk-rtk-cuda") for name in names):
        return "RTK's CUDA build is not installed (pip package itk-rtk-cuda<version>, needs a CUDA device)"
    return _run_probe(_RTK_CUDA_PROBE)
