"""A fingerprint of a source's content (names, sizes, small metadata files), for the job store.

Like :func:`pipeline.acquisition.completeness.pair_fingerprint` for contract
folders: a job is processed again only when this changes. Large files count by
name and size (re-reading gigabytes every scan cycle is not affordable);
metadata text files (``scan.json``, ``.xtekct``, angle files, sidecars) by content.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipeline.acquisition.formats.registry import SIDECAR_SUFFIX, Source

TEXT_SUFFIXES = (".json", ".xtekct", ".txt", ".ang")
TEXT_LIMIT_BYTES = 1 << 20


def _files(source: Source) -> list[Path]:
    path = source.path
    if source.kind in ("contract", "volume-scan"):
        return sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
    if source.kind == "nikon-xtekct":
        return sorted(p for p in path.parent.iterdir() if p.is_file() and not p.name.startswith("."))
    side = path.with_name(path.name + SIDECAR_SUFFIX)
    return [path, side] if side.is_file() else [path]


def source_fingerprint(source: Source) -> str:
    """SHA-256 over the source's kind, file names and sizes, and the content of its metadata text files."""
    digest = hashlib.sha256(source.kind.encode())
    base = source.path if source.path.is_dir() else source.path.parent
    for file in _files(source):
        size = file.stat().st_size
        digest.update(f"\n{file.relative_to(base).as_posix()}:{size}".encode())
        if file.name.lower().endswith(TEXT_SUFFIXES) and size <= TEXT_LIMIT_BYTES:
            digest.update(file.read_bytes())
    return digest.hexdigest()


def pair_sources_fingerprint(scout: Source, zoom: Source) -> str:
    """One fingerprint for a pair of sources (order matters: roles)."""
    return hashlib.sha256(f"scout:{source_fingerprint(scout)}\nzoom:{source_fingerprint(zoom)}".encode()).hexdigest()
