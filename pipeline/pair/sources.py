"""Where a pair's two scans are: a pair folder (``scout/`` + ``zoom/``) or two paths of any supported format.

A :class:`PairSources` is what :func:`pipeline.pair.process.process_pair` takes:
the folder layout of contract v1, or a scout and a zoom given separately
(``scoutzoom process --scout A.txrm --zoom B.nx``), each a file or folder that
:func:`pipeline.acquisition.formats.registry.detect` recognises. Completeness
and the fingerprint follow each format's own rules; a pair folder keeps the
contract-v1 fingerprint, so pairs processed before stay DONE. Two paths are
fingerprinted like a pair folder's files (names, sizes, mtimes, sampled
content), so a loose file rewritten in place, same size, is new content.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from models.errors import InputError
from pipeline.acquisition import layout as names
from pipeline.acquisition.completeness import Completeness

if TYPE_CHECKING:
    from pipeline.acquisition.fingerprint import FingerprintCache

Role = Literal["scout", "zoom"]
SUPPORTED = (
    "expected a contract-v1 scan folder (scan.json), a ZEISS .txrm/.txm, a Nikon .xtekct (or its folder), "
    "an NXtomo HDF5 file, or a volume (OME-TIFF, TIFF stack, NRRD, MHA, NIfTI)"
)


class PairSources(BaseModel):
    """The scout and the zoom of one pair; ``label`` is what reports name as the pair (its folder, or the zoom)."""

    model_config = ConfigDict(frozen=True)

    scout: Path
    zoom: Path
    label: Path
    folder: bool  # True: a pair folder holding scout/ and zoom/

    @classmethod
    def from_folder(cls, pair_dir: Path) -> PairSources:
        pair_dir = Path(pair_dir).resolve()
        return cls(scout=pair_dir / names.SCOUT, zoom=pair_dir / names.ZOOM, label=pair_dir, folder=True)

    @classmethod
    def from_paths(cls, scout: Path, zoom: Path) -> PairSources:
        zoom = Path(zoom).resolve()
        return cls(scout=Path(scout).resolve(), zoom=zoom, label=zoom, folder=False)

    def path(self, role: Role) -> Path:
        return self.scout if role == "scout" else self.zoom


def source_for(path: Path, role: Role):
    """The detected source at ``path``; InputError naming the path when there is none."""
    from pipeline.acquisition.formats.registry import detect

    if not Path(path).exists():
        raise InputError(path, f"{role}: no such file or directory")
    source = detect(Path(path))
    if source is None:
        raise InputError(path, f"{role}: not a supported scan ({SUPPORTED})")
    return source


def check_roles(pair: PairSources) -> None:
    """Read both scans' metadata (headers only) and refuse a scan whose own declared role contradicts its place;
    raises InputError naming the file and the problem (the command line's check before anything is written)."""
    from pipeline.acquisition.formats.registry import read_metadata_any

    for role in ("scout", "zoom"):
        source = source_for(pair.path(role), role)  # type: ignore[arg-type]
        meta = read_metadata_any(source, role=role)  # type: ignore[arg-type]
        if meta.role != role:
            raise InputError(source.path, f"declares role {meta.role!r} but was given as the {role}")
    if pair.scout == pair.zoom:
        raise InputError(pair.scout, "given as both scout and zoom")


def check_sources(pair: PairSources) -> Completeness:
    """Both scans completely written, by each format's own rules (reasons name the role and the file)."""
    from pipeline.acquisition.completeness import check_pair
    from pipeline.acquisition.formats.completeness import check_source

    if pair.folder:
        return check_pair(pair.label)
    reasons: list[str] = []
    for role in ("scout", "zoom"):
        try:
            result = check_source(source_for(pair.path(role), role))  # type: ignore[arg-type]
        except InputError as error:
            reasons.append(str(error))
            continue
        reasons.extend(f"{role} {reason}" for reason in result.reasons)
    return Completeness(complete=not reasons, reasons=reasons)


def sources_fingerprint(pair: PairSources, cache: FingerprintCache | None = None) -> str:
    """The content fingerprint the DONE marker and the job store compare (contract-v1's for a pair folder).

    Two paths: the format's fingerprint (names, sizes, metadata text) plus every file's mtime (ns) and sampled
    bytes (head and tail), as a pair folder's; ``cache`` keeps the samples of unchanged files (the watcher)."""
    from pipeline.acquisition.completeness import pair_fingerprint
    from pipeline.acquisition.fingerprint import FingerprintCache
    from pipeline.acquisition.formats.fingerprint import _files, pair_sources_fingerprint
    from pipeline.acquisition.formats.registry import detect

    if pair.folder:
        return pair_fingerprint(pair.label)
    scout, zoom = detect(pair.scout), detect(pair.zoom)
    if scout is None or zoom is None or not scout.path.exists() or not zoom.path.exists():
        return "missing"
    cache = cache or FingerprintCache()
    digest = hashlib.sha256(pair_sources_fingerprint(scout, zoom).encode())
    for role, source in (("scout", scout), ("zoom", zoom)):
        for file in _files(source):
            info = os.stat(file)
            digest.update(f"\n{role}:{file}:{info.st_mtime_ns}:{cache.digest(file, info, whole=False)}".encode())
    return "sources2:" + digest.hexdigest()
