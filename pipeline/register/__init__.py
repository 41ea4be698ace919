"""Scout-to-zoom registration: FFT phase correlation, then Mattes MI (translation, then rotation and scale).

Names are loaded lazily, so importing ``pipeline.register.config`` (as ``pipeline.config`` does for every
command, the daemon's start-up included) does not import SimpleITK and the registration steps.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "RegistrationConfig": "config",
    "register_scout_to_zoom": "register",
    "Confidence": "result",
    "Registered": "result",
    "RegistrationResult": "result",
    "StepSeconds": "result",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'pipeline.register' has no attribute {name!r}")
    return getattr(importlib.import_module(f"pipeline.register.{_WHERE[name]}"), name)
