"""Which FDK backends can run here, with the reason when not, and the CUDA devices seen (``scoutzoom doctor``).

Builds on :func:`pipeline.reconstruct.backends.available_backends` (TIGRE and
RTK CUDA are probed in child processes there). RTK on CPU is checked from its
installed wrapper files by default: loading RTK took 44 s on 2 busy cores;
``deep=True`` loads it in a child process.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from models.runtimes.probe import Check, installed, run_json_probe
from pipeline.reconstruct.backends import available_backends

_RTK_PROBE = """
import json
from itk import RTK as rtk
assert hasattr(rtk, "FDKConeBeamReconstructionFilter"), "this RTK build has no FDK filter"
print(json.dumps({}))
"""

_NUMBA_CUDA_PROBE = """
import json
from numba import cuda
ok = cuda.is_available()
names = [f"cuda:{g.id} {g.name.decode() if isinstance(g.name, bytes) else g.name}" for g in cuda.gpus] if ok else []
print(json.dumps({"devices": names}))
"""

# what each backend needs besides being importable
_NEEDS = {"tigre": "CUDA", "rtk-cuda": "CUDA", "numba": "CPU", "rtk": "CPU"}


def rtk_unavailable(deep: bool = False) -> str | None:
    """Why RTK on CPU cannot be used (None if it can); ``deep``: load RTK's FDK in a child process."""
    spec = importlib.util.find_spec("itk")
    if spec is None or spec.origin is None or not (installed("itk-rtk") or installed("itk-rtk-cuda124")):
        return "itk-rtk is not installed"
    config = Path(spec.origin).parent / "Configuration" / "RTKConfig.py"
    if not config.is_file() or "FDKConeBeamReconstructionFilter" not in config.read_text(encoding="utf-8"):
        return f"RTK's wrapping is incomplete ({config} lists no FDKConeBeamReconstructionFilter)"
    if not deep:
        return None
    result, reason = run_json_probe(_RTK_PROBE)
    return None if result is not None else f"import failed: {reason}"


def numba_cuda_devices() -> tuple[list[str], str | None]:
    """CUDA devices numba sees, and why none when the list is empty."""
    if importlib.util.find_spec("numba") is None:
        return [], "numba is not installed"
    result, reason = run_json_probe(_NUMBA_CUDA_PROBE)
    if result is None:
        return [], f"numba.cuda failed: {reason}"
    return result["devices"], None if result["devices"] else "numba.cuda sees no CUDA device"


def fdk_backend_checks(deep: bool = False) -> list[Check]:
    """One check per FDK backend (tigre, rtk-cuda, numba, rtk); ``deep``: load RTK too (slow)."""
    reasons = available_backends()
    reasons["rtk"] = rtk_unavailable(deep)
    versions = {
        "rtk": installed("itk-rtk") or installed("itk-rtk-cuda124"),
        "rtk-cuda": installed("itk-rtk-cuda124"),
        "numba": installed("numba"),
    }
    checks = []
    for name, reason in reasons.items():
        check = Check(name=name, usable=reason is None, reason=reason, version=versions.get(name))
        if _NEEDS.get(name) == "CPU":
            check.device_note = "CPU backend"
            if name == "numba":
                devices, why = numba_cuda_devices()
                check.device_note = (
                    f"CPU backend (numba.cuda sees {', '.join(devices)}; no CUDA kernel in the backend yet)"
                    if devices
                    else f"CPU backend ({why})"
                )
        elif reason is None:
            check.device_note = "runs on CUDA"
        elif name == "rtk-cuda" and installed("itk-rtk") and installed("itk-rtk-cuda124"):
            check.reason = f"{reason}; itk-rtk shares its files: reinstall itk-rtk-cuda124 alone (docs/gpu.md)"
        checks.append(check)
    return checks
