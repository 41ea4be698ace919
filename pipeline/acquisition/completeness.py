"""Is a scan (or a pair) completely written? Cheap enough to ask every few seconds.

Reads ``scan.json`` and the TIFF headers only (page count, shape, whether each
page's data lies inside the file), and remembers the answer per file by
(size, mtime) so unchanged files cost one ``stat``. A file still being written
is never called complete: its data ends beyond its size, or it has fewer pages
than promised, or it does not exist under its final name yet, or its last
page's data is still all zeros (a preallocated file). Every read is bounded:
page walks stop at the count the metadata promises (flat/dark at 1000 pages),
only regular files are opened, and links leading outside ``boundary`` are a
problem, not followed.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel

from models.errors import InputError
from pipeline.acquisition import layout as names
from pipeline.acquisition.contract import ScanMetadata
from pipeline.acquisition.fingerprint import FingerprintCache, pair_fingerprint
from pipeline.acquisition.reader import MAX_FRAME_PAGES, check_budget, read_metadata
from pipeline.acquisition.tiffcheck import TiffLayout, inspect_tiff

__all__ = [
    "Completeness",
    "FingerprintCache",
    "HeaderCache",
    "check_pair",
    "check_scan",
    "find_pairs",
    "is_pair_dir",
    "pair_fingerprint",
]


class Completeness(BaseModel):
    """``complete``, or ``incomplete: <reasons>``."""

    complete: bool
    reasons: list[str] = []

    def __str__(self) -> str:
        return "complete" if self.complete else "incomplete: " + "; ".join(self.reasons)


class HeaderCache:
    """TIFF header inspections keyed by path and (size, mtime_ns, inode, page bound, boundary)."""

    def __init__(self) -> None:
        self._entries: dict[Path, tuple[tuple, TiffLayout | InputError]] = {}

    def inspect(
        self, path: Path, *, max_pages: int, boundary: Path | None = None, blank_check: bool = True
    ) -> TiffLayout:
        try:
            stat = os.stat(path)
        except OSError as error:
            raise InputError(path, f"cannot stat: {error.strerror or error}") from None
        key = (stat.st_size, stat.st_mtime_ns, stat.st_ino, max_pages, boundary, blank_check)
        cached = self._entries.get(path)
        if cached is None or cached[0] != key:
            try:
                result: TiffLayout | InputError = inspect_tiff(
                    path, max_pages=max_pages, boundary=boundary, blank_check=blank_check
                )
            except InputError as error:
                result = error
            self._entries[path] = (key, result)
            cached = self._entries[path]
        if isinstance(cached[1], InputError):
            raise cached[1]
        return cached[1]

    def forget_below(self, folder: Path) -> None:
        """Drop entries of files under ``folder`` (a pair that left the watch)."""
        for path in [p for p in self._entries if folder in p.parents]:
            del self._entries[path]


BLANK = "data still all zeros (preallocated, not written yet?)"


def _stack_problems(
    path: Path, meta: ScanMetadata, cache: HeaderCache, boundary: Path | None, budget: int | None
) -> list[str]:
    count = meta.geometry.n_angles
    info = cache.inspect(path, max_pages=count, boundary=boundary)
    if budget is not None:
        check_budget(path, meta, info.dtype, budget)
    problems = []
    if info.shape != meta.geometry.detector_shape:
        problems.append(
            f"{path.name}: page shape {info.shape} does not match detector_shape {meta.geometry.detector_shape}"
        )
    if info.pages < count:
        problems.append(f"{info.pages} of {count} projections in {path.name}")
    elif info.pages > count:
        problems.append(f"{path.name} has {info.pages} pages, geometry.angles_deg says {count}")
    if info.complete_pages < info.pages:
        problems.append(f"{path.name}: projection {info.complete_pages} truncated")
    elif info.last_page_blank:
        problems.append(f"{path.name}: last projection {BLANK}")
    return problems


def _files_problems(
    scan_dir: Path, meta: ScanMetadata, cache: HeaderCache, boundary: Path | None, budget: int | None
) -> list[str]:
    count = meta.geometry.n_angles
    files = names.numbered_projections(scan_dir)
    present = [i for i in range(count) if i in files]
    if len(present) < count:
        missing = next(i for i in range(count) if i not in files)
        return [f"{len(present)} of {count} projections (first missing: {names.projection_name(missing)})"]
    extra = sorted(set(files) - set(range(count)))
    if extra:
        return [f"{files[extra[0]].name}: beyond geometry.angles_deg count {count}"]
    for index in range(count):
        info = cache.inspect(files[index], max_pages=1, boundary=boundary)
        if index == 0 and budget is not None:
            check_budget(files[0], meta, info.dtype, budget)
        if info.pages != 1 or info.complete_pages != 1:
            return [f"projection {index} ({files[index].name}) truncated"]
        if info.last_page_blank:
            return [f"projection {index} ({files[index].name}): {BLANK}"]
        if info.shape != meta.geometry.detector_shape:
            return [
                f"projection {index} ({files[index].name}): shape {info.shape} does not match detector_shape "
                f"{meta.geometry.detector_shape}"
            ]
    return []


def _vendor_completeness(scan_dir: Path) -> Completeness | None:
    """A scan folder holding a scanner's own file (.txrm, .xtekct, NXtomo) instead of scan.json: that format's own
    completeness rules (e.g. an OLE file still being written); None when the folder holds none."""
    from pipeline.acquisition.formats.completeness import check_source
    from pipeline.acquisition.formats.registry import detect

    source = detect(scan_dir)
    if source is None or source.kind == "contract":
        return None
    return check_source(source)


def _volume_completeness(scan_dir: Path, boundary: Path | None) -> Completeness | None:
    """A volume scan (``scan.json`` says ``"data": "volume"``): its volume file's completeness; None otherwise."""
    import json

    from pipeline.acquisition.bounded import MAX_METADATA_BYTES, read_bounded
    from pipeline.acquisition.formats.completeness import check_source
    from pipeline.acquisition.formats.registry import Source

    try:
        document = json.loads(read_bounded(scan_dir / names.METADATA, MAX_METADATA_BYTES, boundary))
    except (InputError, ValueError, RecursionError):
        return None
    if not isinstance(document, dict) or document.get("data") != "volume":
        return None
    return check_source(Source("volume-scan", scan_dir))


def check_scan(
    scan_dir: Path, cache: HeaderCache | None = None, *, boundary: Path | None = None, budget_bytes: int | None = None
) -> Completeness:
    """Completeness of one scan directory; input links leading outside ``boundary`` are problems, and so are
    projections that would need more than ``budget_bytes`` to read (checked from the headers)."""
    scan_dir = Path(scan_dir)
    cache = cache or HeaderCache()
    if not scan_dir.is_dir():
        return Completeness(complete=False, reasons=[f"{scan_dir.name}/ missing"])
    if not os.path.lexists(scan_dir / names.METADATA):
        vendor = _vendor_completeness(scan_dir)
        if vendor is not None:
            return vendor
    try:
        meta = read_metadata(scan_dir, boundary=boundary)
    except InputError as error:
        volume = _volume_completeness(scan_dir, boundary)
        if volume is not None:
            return volume
        return Completeness(
            complete=False, reasons=[f"{scan_dir.name}/{error.path.name if error.path else ''}: {error.problem}"]
        )
    try:
        stack = scan_dir / names.STACK
        if os.path.lexists(stack):
            problems = _stack_problems(stack, meta, cache, boundary, budget_bytes)
        else:
            problems = _files_problems(scan_dir, meta, cache, boundary, budget_bytes)
        for optional in (names.FLAT, names.DARK):
            if os.path.lexists(scan_dir / optional):
                info = cache.inspect(
                    scan_dir / optional, max_pages=MAX_FRAME_PAGES, boundary=boundary, blank_check=False
                )
                if info.complete_pages < info.pages:
                    problems.append(f"{optional} truncated")
        if meta.values == "intensity" and meta.role == "zoom" and not (scan_dir / names.FLAT).exists():
            problems.append("flat.tif missing (an intensity zoom scan needs it)")
    except InputError as error:
        problems = [f"{error.path.name if error.path else scan_dir.name}: {error.problem}"]
    except FileNotFoundError as error:  # a file vanished while we looked (being renamed)
        problems = [f"{Path(str(error.filename)).name} changed while checking"]
    return Completeness(complete=not problems, reasons=[f"{scan_dir.name}: {p}" for p in problems])


def check_pair(
    pair_dir: Path, cache: HeaderCache | None = None, *, boundary: Path | None = None, budget_bytes: int | None = None
) -> Completeness:
    """Completeness of a pair: both ``scout/`` and ``zoom/`` complete (see :func:`check_scan`)."""
    cache = cache or HeaderCache()
    reasons: list[str] = []
    for role in (names.SCOUT, names.ZOOM):
        result = check_scan(Path(pair_dir) / role, cache, boundary=boundary, budget_bytes=budget_bytes)
        reasons.extend(result.reasons)
    return Completeness(complete=not reasons, reasons=reasons)


def is_pair_dir(path: Path) -> bool:
    return (path / names.SCOUT).is_dir() and (path / names.ZOOM).is_dir()


def find_pairs(root: Path) -> list[Path]:
    """Every pair directory below ``root`` (not descending into pairs or hidden folders)."""
    pairs: list[Path] = []
    for current, dirs, _files in os.walk(root):
        path = Path(current)
        if is_pair_dir(path):
            pairs.append(path)
            dirs.clear()
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    return sorted(pairs)
