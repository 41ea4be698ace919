"""A bounded walk over a TIFF's page directories (IFDs), reading only what a check needs.

tifffile parses every tag of every page and follows the IFD chain as far as
it goes: a 126-byte file whose IFD points to itself kept it busy for minutes
(its loop check runs once, at page 100, and not when iterating uncached), and
150,000 tiny IFDs cost 26 s. This walk reads, per page, only the shape, pixel
type, compression and data extents, stops at ``max_pages`` or a time budget,
and detects loops exactly. Pixel data is still decoded by tifffile, and only
after this walk has vouched for the file.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from pathlib import Path

from models.errors import InputError
from pipeline.acquisition.bounded import read_range

MAX_TAGS = 4096  # per IFD; tifffile calls more "suspicious" as well
MAX_SEGMENTS = 1 << 20  # strips or tiles per page
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}
_INT_FORMATS = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 13: "I", 16: "Q", 17: "q", 18: "Q"}
_DTYPES = {
    (1, 8): "uint8",
    (1, 16): "uint16",
    (1, 32): "uint32",
    (1, 64): "uint64",
    (2, 8): "int8",
    (2, 16): "int16",
    (2, 32): "int32",
    (2, 64): "int64",
    (3, 16): "float16",
    (3, 32): "float32",
    (3, 64): "float64",
}
WIDTH, LENGTH, BITS, COMPRESSION, STRIP_OFFSETS, SAMPLES, STRIP_COUNTS = 256, 257, 258, 259, 273, 277, 279
TILE_OFFSETS, TILE_COUNTS, SAMPLE_FORMAT = 324, 325, 339
_WANTED = {
    WIDTH,
    LENGTH,
    BITS,
    COMPRESSION,
    STRIP_OFFSETS,
    SAMPLES,
    STRIP_COUNTS,
    TILE_OFFSETS,
    TILE_COUNTS,
    SAMPLE_FORMAT,
}


@dataclass(frozen=True)
class Page:
    """One page as its directory describes it; ``segments`` are (offset, byte count) of its strips or tiles."""

    shape: tuple[int, int]
    samples: int
    dtype: str
    compression: int
    segments: tuple[tuple[int, int], ...]

    def data_inside(self, file_size: int) -> bool:
        """Every strip/tile non-empty and wholly inside a file of ``file_size`` bytes."""
        return bool(self.segments) and all(count > 0 and offset + count <= file_size for offset, count in self.segments)


@dataclass(frozen=True)
class _Format:
    byteorder: str
    big: bool

    @property
    def count_size(self) -> int:
        return 8 if self.big else 2

    @property
    def entry_size(self) -> int:
        return 20 if self.big else 12

    @property
    def offset_size(self) -> int:
        return 8 if self.big else 4

    def unpack(self, code: str, data: bytes) -> tuple:
        return struct.unpack(self.byteorder + code, data)


def _header(path: Path, fd: int, size: int) -> tuple[_Format, int]:
    head = read_range(fd, 0, 16)
    if len(head) < 8 or head[:2] not in (b"II", b"MM"):
        raise InputError(path, "not a TIFF file (no TIFF byte-order mark at the start)")
    order = "<" if head[:2] == b"II" else ">"
    magic = struct.unpack(order + "H", head[2:4])[0]
    if magic == 42:
        return _Format(order, False), struct.unpack(order + "I", head[4:8])[0]
    if magic == 43 and len(head) >= 16:
        return _Format(order, True), struct.unpack(order + "Q", head[8:16])[0]
    raise InputError(path, "not a TIFF file (bad version number in the header)")


def _values(path: Path, fd: int, fmt: _Format, entry: bytes, index: int) -> list[int]:
    """Integer values of one IFD entry (inline or at its offset), count bounded."""
    tag_type, count = fmt.unpack("HQ" if fmt.big else "HI", entry[2:12] if fmt.big else entry[2:8])
    code = _INT_FORMATS.get(tag_type)
    if code is None:
        raise InputError(path, f"page {index}: tag {fmt.unpack('H', entry[:2])[0]} has non-integer type {tag_type}")
    if count > MAX_SEGMENTS:
        raise InputError(
            path, f"page {index}: tag {fmt.unpack('H', entry[:2])[0]} has {count} values (max {MAX_SEGMENTS})"
        )
    nbytes = count * _TYPE_SIZES[tag_type]
    inline = entry[12:20] if fmt.big else entry[8:12]
    if nbytes <= len(inline):
        data = inline[:nbytes]
    else:
        offset = fmt.unpack("Q" if fmt.big else "I", inline)[0]
        data = read_range(fd, offset, nbytes)
        if len(data) < nbytes:
            raise InputError(path, f"page {index}: tag values beyond the end of the file")
    return list(fmt.unpack(f"{count}{code}", data))


def _page(path: Path, fd: int, fmt: _Format, offset: int, index: int) -> tuple[Page, int]:
    head = read_range(fd, offset, 512)  # most directories fit: one read per page
    if len(head) < fmt.count_size:
        raise InputError(path, f"page {index}: directory beyond the end of the file")
    (tags,) = fmt.unpack("Q" if fmt.big else "H", head[: fmt.count_size])
    if tags == 0 or tags > MAX_TAGS:
        raise InputError(path, f"page {index}: directory claims {tags} tags")
    length = tags * fmt.entry_size + fmt.offset_size
    body = head[fmt.count_size : fmt.count_size + length]
    if len(body) < length:
        body = read_range(fd, offset + fmt.count_size, length)
        if len(body) < length:
            raise InputError(path, f"page {index}: directory cut short")
    found: dict[int, list[int]] = {}
    tag_code = fmt.byteorder + "H"
    for start in range(0, tags * fmt.entry_size, fmt.entry_size):
        (tag,) = struct.unpack_from(tag_code, body, start)
        if tag in _WANTED:
            found[tag] = _values(path, fd, fmt, body[start : start + fmt.entry_size], index)
    (next_offset,) = fmt.unpack("Q" if fmt.big else "I", body[-fmt.offset_size :])
    if WIDTH not in found or LENGTH not in found:
        raise InputError(path, f"page {index}: no image width or length")
    shape = (int(found[LENGTH][0]), int(found[WIDTH][0]))
    bits = int(found.get(BITS, [1])[0])
    sample_format = int(found.get(SAMPLE_FORMAT, [1])[0])
    offsets = found.get(TILE_OFFSETS, found.get(STRIP_OFFSETS, []))
    counts = found.get(TILE_COUNTS, found.get(STRIP_COUNTS, []))
    if len(offsets) != len(counts):
        raise InputError(path, f"page {index}: {len(offsets)} data offsets but {len(counts)} byte counts")
    page = Page(
        shape=shape,
        samples=int(found.get(SAMPLES, [1])[0]),
        dtype=_DTYPES.get((sample_format, bits), "unknown"),
        compression=int(found.get(COMPRESSION, [1])[0]),
        segments=tuple(zip(offsets, counts)),
    )
    return page, int(next_offset)


def walk_pages(path: Path, fd: int, size: int, *, max_pages: int, budget_s: float) -> list[Page]:
    """Every page of the open TIFF ``fd`` (``size`` bytes), in order.

    Raises :class:`InputError` for a loop in the IFD chain, more than ``max_pages``
    pages, a walk longer than ``budget_s`` seconds, or a malformed directory.
    """
    fmt, offset = _header(path, fd, size)
    pages: list[Page] = []
    seen: dict[int, int] = {}
    deadline = time.monotonic() + budget_s
    while offset:
        index = len(pages)
        if offset in seen:
            raise InputError(path, f"page directory chain loops (page {index} is page {seen[offset]} again)")
        if offset < 8 or offset >= size:
            raise InputError(path, f"page {index}: directory offset {offset} outside the file ({size} bytes)")
        if index >= max_pages:
            raise InputError(path, f"more than {max_pages} pages")
        if index % 256 == 255 and time.monotonic() > deadline:
            raise InputError(path, f"page directories not walked within {budget_s:g} s (at page {index})")
        seen[offset] = index
        page, offset = _page(path, fd, fmt, offset, index)
        pages.append(page)
    return pages
