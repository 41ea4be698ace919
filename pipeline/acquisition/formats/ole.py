"""Typed reads of streams in an OLE2 compound file (ZEISS Xradia ``.txrm``/``.txm``) with ``olefile``.

Xradia streams hold little-endian scalars or arrays of one type (int32,
uint32, float32, ...) or NUL-padded strings; a missing or short stream is an
:class:`InputError` naming the file and the stream. Also a cheap structural
check of a compound file (header, FAT, every allocated sector inside the file),
used to tell a file still being written from a finished one.
"""

from __future__ import annotations

import struct
from pathlib import Path
from types import TracebackType

import numpy as np
import olefile

from models.errors import InputError

SIGNATURE = bytes.fromhex("D0CF11E0A1B11AE1")
HEADER_BYTES = 512
FREESECT, ENDOFCHAIN, FATSECT, DIFSECT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFC
MAX_REGSECT = 0xFFFFFFFA


class OleStreams:
    """An open compound file; ``with OleStreams(path) as ole: ole.scalar("ImageInfo/ImageWidth", "<i4")``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(self.path, "missing")
        if not olefile.isOleFile(str(self.path)):
            raise InputError(self.path, "not an OLE2 compound file (no D0CF11E0 signature)")
        try:
            self._ole = olefile.OleFileIO(str(self.path))
        except (OSError, ValueError, struct.error) as error:  # olefile raises these on corrupt headers/FAT
            raise InputError(self.path, f"corrupt compound file: {error}") from None

    def __enter__(self) -> OleStreams:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._ole.close()

    def exists(self, name: str) -> bool:
        return bool(self._ole.exists(name))

    def raw(self, name: str) -> bytes:
        if not self._ole.exists(name):
            raise InputError(self.path, f"stream {name} missing")
        try:
            with self._ole.openstream(name) as stream:
                return stream.read()
        except (OSError, ValueError) as error:  # a sector beyond the end of the file: truncated
            raise InputError(self.path, f"stream {name} unreadable (truncated file?): {error}") from None

    def array(self, name: str, dtype: str, count: int | None = None) -> np.ndarray:
        """The stream as a 1-D array of ``dtype`` (at least ``count`` items, extra bytes ignored)."""
        data = self.raw(name)
        item = np.dtype(dtype).itemsize
        usable = len(data) // item
        if count is not None and usable < count:
            raise InputError(self.path, f"stream {name} holds {usable} values of {np.dtype(dtype)}, expected {count}")
        return np.frombuffer(data[: (count if count is not None else usable) * item], dtype=dtype).copy()

    def scalar(self, name: str, dtype: str) -> float:
        return float(self.array(name, dtype, 1)[0])

    def optional_scalar(self, name: str, dtype: str) -> float | None:
        return self.scalar(name, dtype) if self.exists(name) else None

    def string(self, name: str) -> str | None:
        """A NUL-terminated string stream (first item), or None when missing or empty."""
        if not self.exists(name):
            return None
        text = self.raw(name).split(b"\x00", 1)[0].decode("latin-1").strip()
        return text or None


def structure_problems(path: Path) -> list[str]:
    """Why a compound file is not (yet) whole, read from its header and FAT only; empty when whole.

    A writer still adding sectors leaves the FAT pointing past the end of the
    file, or the file shorter than its header's FAT claims; both are caught
    without reading any stream (MS-CFB section 2.2, header; 2.3, FAT).
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            header = handle.read(HEADER_BYTES)
            if len(header) < HEADER_BYTES or header[:8] != SIGNATURE:
                return ["no compound-file header yet"]
            sector_shift = struct.unpack_from("<H", header, 30)[0]
            if sector_shift not in (9, 12):
                return [f"sector shift {sector_shift} is neither 9 nor 12"]
            sector = 1 << sector_shift
            n_fat = struct.unpack_from("<I", header, 44)[0]
            first_difat, n_difat = struct.unpack_from("<II", header, 68)
            fat_sectors = [s for s in struct.unpack_from("<109I", header, 76) if s <= MAX_REGSECT][:n_fat]
            next_difat = first_difat
            for _ in range(n_difat):
                if next_difat > MAX_REGSECT:
                    break
                handle.seek((next_difat + 1) * sector)  # sector n starts after the header sector
                block = handle.read(sector)
                if len(block) < sector:
                    return ["DIFAT sector beyond the end of the file"]
                values = struct.unpack(f"<{sector // 4}I", block)
                fat_sectors += [s for s in values[:-1] if s <= MAX_REGSECT]
                next_difat = values[-1]
            fat_sectors = fat_sectors[:n_fat]
            if len(fat_sectors) < n_fat:
                return [f"header lists {len(fat_sectors)} of {n_fat} FAT sectors"]
            sectors_in_file = (size - sector) // sector if size >= sector else 0
            beyond = [s for s in fat_sectors if s >= sectors_in_file]
            if beyond:
                return [f"FAT sector {beyond[0]} beyond the end of the file ({sectors_in_file} sectors)"]
            highest = -1
            for position in range(len(fat_sectors) - 1, -1, -1):  # the last FAT sector in use maps the highest sectors
                handle.seek((fat_sectors[position] + 1) * sector)
                entries = np.frombuffer(handle.read(sector), dtype="<u4")
                used = np.flatnonzero(entries != FREESECT)
                if used.size:
                    highest = int(used[-1]) + len(entries) * position
                    break
    except OSError as error:
        return [f"unreadable: {error}"]
    if highest >= sectors_in_file:
        return [f"FAT allocates sector {highest}, the file holds {sectors_in_file}: still being written"]
    return []
