"""Which format a path holds, and reading any of them into the typed metadata the pipeline uses.

A *source* is a contract-v1 scan directory (``scan.json`` + projections, or a
volume scan), a ZEISS ``.txrm``/``.txm``, a Nikon ``.xtekct`` (or a folder
holding exactly one), an NXtomo HDF5 file, or a bare volume file (OME-TIFF,
TIFF, NRRD, MHA, NIfTI). Vendor files carry no role; the caller (a pair folder,
the pairing rule, the command line) gives it. Whatever the vendor file lacks
(stage position, sample id, conditions) can be given in a sidecar JSON beside
it, ``<file name>.scoutzoom.json``, holding any top-level ``scan.json`` keys
except ``geometry``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from models.errors import InputError
from pipeline.acquisition.contract import ScanMetadata, VolumeScanMetadata, scan_data_kind
from pipeline.acquisition.scan import Scan
from pipeline.acquisition.volume import VolumeScan, volume_scan_from
from pipeline.acquisition.volume_files import read_volume_file, volume_header, volume_kind

if TYPE_CHECKING:
    from pipeline.acquisition.formats.pairing import ScanSummary

Kind = Literal["contract", "volume-scan", "zeiss-txrm", "zeiss-txm", "nikon-xtekct", "nxtomo", "volume-file"]
Role = Literal["scout", "zoom"]
SIDECAR_SUFFIX = ".scoutzoom.json"
HDF5_SUFFIXES = (".nx", ".nxs", ".h5", ".hdf5", ".hdf")


@dataclass(frozen=True)
class Source:
    """A readable acquisition: its kind and the path an adapter reads (a file or a scan directory)."""

    kind: Kind
    path: Path


def detect(path: Path) -> Source | None:
    """The format at ``path``, or None when it is none of ours (cheap: names and, for folders, a listing)."""
    path = Path(path)
    if path.is_dir():
        metadata = path / "scan.json"
        if metadata.is_file():
            try:
                document = json.loads(metadata.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                return Source("contract", path)  # the contract reader reports the problem
            return Source("volume-scan" if scan_data_kind(document) == "volume" else "contract", path)
        xtek = sorted(p for p in path.glob("*.xtekct") if not p.name.startswith("."))
        if len(xtek) == 1:
            return Source("nikon-xtekct", xtek[0])
        return _single_file(path)
    name = path.name.lower()
    if name.startswith(".") or name.endswith(SIDECAR_SUFFIX):
        return None
    if name.endswith(".txrm"):
        return Source("zeiss-txrm", path)
    if name.endswith(".txm"):
        return Source("zeiss-txm", path)
    if name.endswith(".xtekct"):
        return Source("nikon-xtekct", path)
    if name.endswith(HDF5_SUFFIXES):
        return Source("nxtomo", path)
    if volume_kind(path) in ("tiff", "itk"):
        return Source("volume-file", path)
    return None


def _single_file(folder: Path) -> Source | None:
    """A folder holding exactly one vendor file (``.txrm``, ``.txm``, NXtomo), as ``scout/A.txrm`` in a pair folder."""
    inside = [detect(p) for p in sorted(folder.iterdir()) if p.is_file()]
    vendor = [s for s in inside if s is not None and s.kind in ("zeiss-txrm", "zeiss-txm", "nxtomo")]
    return vendor[0] if len(vendor) == 1 else None


def sidecar(path: Path) -> dict[str, Any]:
    """The lab's additions for a vendor file (``<name>.scoutzoom.json``), or an empty dict."""
    side = Path(path).with_name(Path(path).name + SIDECAR_SUFFIX)
    if not side.is_file():
        return {}
    try:
        document = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(side, f"cannot read: {error}") from None
    if not isinstance(document, dict) or "geometry" in document:
        raise InputError(side, "must be a JSON object of scan.json keys other than geometry")
    return document


def _role(role: Role | None, extra: dict[str, Any], source: Source) -> Role:
    chosen = extra.get("role", role)
    if chosen not in ("scout", "zoom"):
        raise InputError(source.path, "role unknown: give scout or zoom (pair folder, sidecar or command line)")
    return chosen  # type: ignore[return-value]


def read_metadata_any(source: Source, role: Role | None = None) -> ScanMetadata | VolumeScanMetadata:
    """Metadata of any source, without reading image data."""
    from pipeline.acquisition.reader import read_metadata
    from pipeline.acquisition.volume import read_volume_metadata

    if source.kind == "contract":
        return read_metadata(source.path)
    if source.kind == "volume-scan":
        return read_volume_metadata(source.path)
    extra = sidecar(source.path)
    chosen = _role(role, extra, source)
    if source.kind == "zeiss-txrm":
        from pipeline.acquisition.formats.zeiss import read_txrm_metadata

        return read_txrm_metadata(source.path, chosen, overrides=extra)
    if source.kind == "zeiss-txm":
        from pipeline.acquisition.formats.zeiss import read_txm_metadata

        return read_txm_metadata(source.path, chosen, overrides=extra)
    if source.kind == "nikon-xtekct":
        from pipeline.acquisition.formats.nikon import read_xtekct_metadata

        return read_xtekct_metadata(source.path, chosen, overrides=extra)
    if source.kind == "nxtomo":
        from pipeline.acquisition.formats.nxtomo import read_nxtomo_metadata

        return read_nxtomo_metadata(source.path, chosen, overrides=extra)
    return _bare_volume_metadata(source.path, chosen, extra)


def _bare_volume_metadata(path: Path, role: Role, extra: dict[str, Any]) -> VolumeScanMetadata:
    from pipeline.acquisition.formats.common import merged, validated_volume

    document = {
        "format_version": 1,
        "role": role,
        "data": "volume",
        "sample_id": path.name.split(".")[0],
        "volume": {"file": path.name},
        "source_format": "volume-file",
    }
    return validated_volume(merged(document, extra), path)


def read_any(source: Source, role: Role | None = None) -> Scan | VolumeScan:
    """Read any source: a :class:`Scan` (projections as line integrals) or a :class:`VolumeScan`."""
    from pipeline.acquisition.reader import read_scan
    from pipeline.acquisition.volume import read_volume_scan

    if source.kind == "contract":
        return read_scan(source.path)
    if source.kind == "volume-scan":
        return read_volume_scan(source.path)
    extra = sidecar(source.path)
    chosen = _role(role, extra, source)
    if source.kind == "zeiss-txrm":
        from pipeline.acquisition.formats.zeiss import read_txrm

        return read_txrm(source.path, chosen, overrides=extra)
    if source.kind == "nikon-xtekct":
        from pipeline.acquisition.formats.nikon import read_xtekct

        return read_xtekct(source.path, chosen, overrides=extra)
    if source.kind == "nxtomo":
        from pipeline.acquisition.formats.nxtomo import read_nxtomo

        return read_nxtomo(source.path, chosen, overrides=extra)
    meta = read_metadata_any(source, chosen)
    assert isinstance(meta, VolumeScanMetadata)
    return volume_scan_from(meta, read_volume_file(source.path), source.path)


def summarise_source(source: Source) -> ScanSummary:
    """What pairing needs of a source (:mod:`.pairing`), from headers only."""
    from pipeline.acquisition.formats.pairing import summarise
    from pipeline.acquisition.volume import resolve_voxel

    declared = source.kind in ("contract", "volume-scan") or "role" in (
        sidecar(source.path) if source.path.is_file() else {}
    )
    meta = read_metadata_any(source, role="zoom")  # a placeholder role: pairing decides (declared roles are kept)
    if isinstance(meta, ScanMetadata):
        return summarise(source.path, source.kind, meta, declared_role=declared)
    file = source.path / meta.volume.file if source.kind == "volume-scan" else source.path
    shape, voxel_in_file = volume_header(file)
    voxel = resolve_voxel(meta.volume, voxel_in_file, file)
    return summarise(source.path, source.kind, meta, shape, voxel, declared_role=declared)


def _is_stack(path: Path) -> bool:
    """A TIFF holding a 3-D stack (a volume), not a 2-D slice or a lone projection."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            return len([n for n in tif.series[0].shape if n > 1]) == 3
    except (tifffile.TiffFileError, ValueError, OSError, IndexError):
        return False


def _is_unit(folder: Path) -> bool:
    """A folder that is one source as a whole: a scan folder (``scan.json``) or a Nikon folder (one ``.xtekct``)."""
    return (folder / "scan.json").is_file() or len(
        [p for p in folder.glob("*.xtekct") if not p.name.startswith(".")]
    ) == 1


def find_sources(root: Path) -> list[Source]:
    """Loose sources below ``root`` for the pairing rule, sorted by path.

    Not descended into: hidden folders, pair folders (``scout/`` + ``zoom/``:
    the folder rule pairs those), scan folders (``scan.json``) and Nikon
    folders (one ``.xtekct``), each of which is one source. Single-page TIFFs
    are never volumes on their own (slices and projections belong to a folder
    that says what they are).
    """
    found: list[Source] = []
    pending = [Path(root)]
    while pending:
        folder = pending.pop()
        if (folder / "scout").is_dir() and (folder / "zoom").is_dir():
            continue
        here = detect(folder) if folder != Path(root) and _is_unit(folder) else None
        if here is not None:
            found.append(here)
            continue
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                pending.append(entry)
                continue
            source = detect(entry)
            if source is None or (
                source.kind == "volume-file" and volume_kind(entry) == "tiff" and not _is_stack(entry)
            ):
                continue
            if source.kind == "nikon-xtekct" and len(list(folder.glob("*.xtekct"))) == 1 and folder != Path(root):
                continue  # already found as its folder
            found.append(source)
    return sorted(found, key=lambda s: str(s.path))
