"""Lazy import of ITK/RTK: the first access to ``rtk.*`` costs 14-21 s, paid once per process.

The Pool threader is selected before ITK is imported: the wheel's default (TBB)
was ~2.6x slower on the CPUs we run on.
"""

from __future__ import annotations

import functools
import os
from types import ModuleType


@functools.cache
def itk_modules() -> tuple[ModuleType, ModuleType]:
    """``(itk, rtk)``, imported once and kept resident (the only module-level cache here)."""
    os.environ.setdefault("ITK_GLOBAL_DEFAULT_THREADER", "Pool")
    import itk
    from itk import RTK as rtk

    _ = rtk.FDKConeBeamReconstructionFilter  # the lazy loader pays its cost here, not inside the first slab
    return itk, rtk
