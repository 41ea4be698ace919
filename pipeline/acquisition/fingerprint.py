"""Content-true fingerprint of a pair, at bounded cost.

Names and sizes alone miss a file rewritten at the same size: a preallocated
projection filled in later, or a pair re-acquired in place. Per file the
fingerprint takes its name, size, mtime (ns) and a hash of sampled bytes (the
first 4 KiB and the last 16 KiB: TIFF headers and the last page's data), and
``scan.json`` whole (at most 1 MiB). A :class:`FingerprintCache` keeps the
sampled hashes by (size, mtime, ctime, inode), so an unchanged file costs one
``stat``. Only regular files count; links leaving ``boundary`` are recorded as
such, never read.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from models.atomic import is_temporary
from models.errors import InputError
from pipeline.acquisition import layout as names
from pipeline.acquisition.bounded import MAX_METADATA_BYTES, check_within

VERSION = "v2"
HEAD_BYTES = 4096
TAIL_BYTES = 16384


def _sample_digest(path: Path, size: int, whole: bool) -> str:
    """sha256 of the file's head and tail (or all of it when ``whole``), read without blocking."""
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "not-regular"
        if whole and size <= MAX_METADATA_BYTES:
            digest.update(os.pread(fd, size, 0))
        else:
            digest.update(os.pread(fd, HEAD_BYTES, 0))
            digest.update(os.pread(fd, TAIL_BYTES, max(0, size - TAIL_BYTES)))
    finally:
        os.close(fd)
    return digest.hexdigest()


class FingerprintCache:
    """Sampled-content hashes by path, valid while (size, mtime_ns, ctime_ns, inode) stay the same."""

    def __init__(self) -> None:
        self._entries: dict[Path, tuple[tuple[int, int, int, int], str]] = {}

    def digest(self, path: Path, info: os.stat_result, whole: bool) -> str:
        key = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
        cached = self._entries.get(path)
        if cached is None or cached[0] != key:
            cached = (key, _sample_digest(path, info.st_size, whole))
            self._entries[path] = cached
        return cached[1]

    def forget_below(self, folder: Path) -> None:
        for path in [p for p in self._entries if folder in p.parents]:
            del self._entries[path]


def _entry_line(entry: Path, role: str, cache: FingerprintCache, boundary: Path | None) -> str | None:
    if is_temporary(entry):
        return None
    try:
        check_within(entry, boundary)
        info = os.stat(entry)
    except InputError:
        return f"{role}/{entry.name}:link-outside\n"
    except OSError:
        return None  # dangling link or vanished while listing
    if not stat.S_ISREG(info.st_mode):
        return None
    content = cache.digest(entry, info, whole=entry.name == names.METADATA)
    return f"{role}/{entry.name}:{info.st_size}:{info.st_mtime_ns}:{content}\n"


def pair_fingerprint(pair_dir: Path, cache: FingerprintCache | None = None, *, boundary: Path | None = None) -> str:
    """``v2:`` + sha256 over both scans' files: names, sizes, mtimes and sampled content."""
    cache = cache or FingerprintCache()
    digest = hashlib.sha256()
    for role in (names.SCOUT, names.ZOOM):
        scan_dir = Path(pair_dir) / role
        if not scan_dir.is_dir():
            digest.update(f"{role}: missing\n".encode())
            continue
        for entry in sorted(scan_dir.iterdir()):
            line = _entry_line(entry, role, cache, boundary)
            if line is not None:
                digest.update(line.encode())
    return f"{VERSION}:{digest.hexdigest()}"


def legacy_fingerprint(pair_dir: Path) -> str:
    """The version-1 fingerprint (names, sizes, ``scan.json``), so jobs stored before v2 are still recognised."""
    digest = hashlib.sha256()
    for role in (names.SCOUT, names.ZOOM):
        scan_dir = Path(pair_dir) / role
        if not scan_dir.is_dir():
            digest.update(f"{role}: missing\n".encode())
            continue
        for entry in sorted(scan_dir.iterdir()):
            try:
                info = os.stat(entry)
            except OSError:
                continue
            if is_temporary(entry) or not stat.S_ISREG(info.st_mode):
                continue
            digest.update(f"{role}/{entry.name}:{info.st_size}\n".encode())
            if entry.name == names.METADATA:
                if info.st_size > MAX_METADATA_BYTES:
                    return "legacy-unavailable"
                digest.update(Path(entry).read_bytes())
    return digest.hexdigest()
