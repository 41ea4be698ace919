"""FDK backends behind one interface; which are usable here, and picking one."""

from __future__ import annotations

import importlib.util

from models.errors import BackendUnavailable
from pipeline.reconstruct.backends.base import FDKBackend, SlabJob
from pipeline.reconstruct.backends.probe import rtk_cuda_unavailable, tigre_unavailable
from pipeline.reconstruct.backends.rtk import RTKBackend

# auto: GPU first, then the project's CPU FDK, then RTK on CPU (the reference)
_AUTO_ORDER = ("tigre", "rtk-cuda", "numba", "rtk")


def numba_unavailable() -> str | None:
    """Why the numba CPU FDK cannot be used (None if it can)."""
    return None if importlib.util.find_spec("numba") is not None else "numba is not installed"


_WHY_UNAVAILABLE = {
    "tigre": tigre_unavailable,
    "rtk-cuda": rtk_cuda_unavailable,
    "numba": numba_unavailable,
    "rtk": lambda: None,
}


def available_backends() -> dict[str, str | None]:
    """Each backend name -> None if usable here, else why not (GPU probes run in subprocesses, once per process)."""
    return {name: why() for name, why in _WHY_UNAVAILABLE.items()}


def make_backend(name: str, cpu_threads: int = 0) -> FDKBackend:
    """The backend called ``name`` (``auto``: the first usable of TIGRE, RTK CUDA, numba, RTK CPU)."""
    if name == "rtk":
        return RTKBackend()
    if name == "auto":
        name = next(n for n in _AUTO_ORDER if _WHY_UNAVAILABLE[n]() is None)  # probes only up to the first usable
        if name == "rtk":
            return RTKBackend()
    why = _WHY_UNAVAILABLE.get(name)
    reason = why() if why is not None else f"unknown backend {name!r}"
    if reason is not None:
        raise BackendUnavailable(f"reconstruction backend {name!r} unavailable: {reason}")
    if name == "numba":
        from pipeline.reconstruct.backends.fdk_numba import NumbaFDKBackend

        return NumbaFDKBackend(cpu_threads)
    if name == "rtk-cuda":
        return RTKBackend(cuda=True)
    from pipeline.reconstruct.backends.tigre import TigreBackend

    return TigreBackend()


__all__ = ["FDKBackend", "SlabJob", "RTKBackend", "available_backends", "make_backend", "numba_unavailable"]
