"""Model cache: trained models with model cards, matched on acquisition conditions.

Flow for a new pair (see :func:`models.cache.select.select_model`):
a ``MatchQuery`` (built from the scans by :mod:`pipeline.pair.conditions`) -> ``rank_candidates`` ->
``ModelCache.verify`` ->
``validate_candidate`` -> reuse, fine-tune or train -> ``ModelCache.add``.
Submodules import only light libraries (onnxruntime and scikit-image lazily or
on use), never TensorFlow. Names are loaded lazily, so importing
``models.cache.config`` (as ``pipeline.config`` does) stays cheap and cycle-free.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "card": (
        "AcquisitionConditions",
        "ModelCard",
        "RuntimeEngine",
        "ScanConditions",
        "array_fingerprint",
        "build_card",
        "card_from_trained",
    ),
    "config": ("CacheConfig", "MatchPolicy", "ValidationPolicy"),
    "matching": ("MatchQuery", "MatchResult", "match", "rank_candidates"),
    "paths": ("default_cache_dir", "resolve_cache_dir"),
    "select": ("CacheDecision", "CandidateRecord", "select_model"),
    "store": ("ModelCache",),
    "validate": ("ValidationOutcome", "validate_candidate"),
    "verify": ("CacheEntryRejected",),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'models.cache' has no attribute {name!r}")
    return getattr(importlib.import_module(f"models.cache.{_MODULE_OF[name]}"), name)


__all__ = [
    "CacheConfig",
    "CacheDecision",
    "CacheEntryRejected",
    "CandidateRecord",
    "AcquisitionConditions",
    "MatchPolicy",
    "MatchQuery",
    "MatchResult",
    "ModelCache",
    "ModelCard",
    "RuntimeEngine",
    "ScanConditions",
    "ValidationOutcome",
    "ValidationPolicy",
    "array_fingerprint",
    "build_card",
    "card_from_trained",
    "default_cache_dir",
    "match",
    "rank_candidates",
    "resolve_cache_dir",
    "select_model",
    "validate_candidate",
]
