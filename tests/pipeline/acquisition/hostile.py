"""Hostile TIFFs built byte by byte: self-looping IFD chains, very many pages, huge declared pages."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

UINT16 = (16, 1)
FLOAT32 = (32, 3)


def _entries(
    rows: int, columns: int, strip_offset: int, strip_bytes: int, compression: int, pixel: tuple[int, int]
) -> list[tuple[int, int, int, int]]:
    bits, sample_format = pixel
    return [
        (256, 4, 1, columns),
        (257, 4, 1, rows),
        (258, 3, 1, bits),
        (259, 3, 1, compression),
        (262, 3, 1, 1),
        (273, 4, 1, strip_offset),
        (277, 3, 1, 1),
        (278, 4, 1, rows),
        (279, 4, 1, strip_bytes),
        (339, 3, 1, sample_format),
    ]


def _ifd(entries: list[tuple[int, int, int, int]], next_offset: int) -> bytes:
    body = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        body += struct.pack("<HHII", tag, kind, count, value)
    return body + struct.pack("<I", next_offset)


IFD_BYTES = 2 + 10 * 12 + 4


def chained_tiff(
    path: Path,
    pages: int,
    *,
    rows: int = 8,
    columns: int = 8,
    loop_to: int | None = None,
    compression: int = 1,
    data: bytes | None = None,
    pixel: tuple[int, int] = UINT16,
) -> Path:
    """``pages`` IFDs sharing one strip of ``data``; the last IFD points back to page ``loop_to`` if given."""
    strip = data if data is not None else b"\x01" * (rows * columns * pixel[0] // 8)
    strip_offset = 8
    first_ifd = strip_offset + len(strip) + (len(strip) % 2)
    out = bytearray(b"II*\x00" + struct.pack("<I", first_ifd) + strip + b"\0" * (len(strip) % 2))
    for index in range(pages):
        here = first_ifd + index * IFD_BYTES
        if index + 1 < pages:
            following = here + IFD_BYTES
        else:
            following = first_ifd + loop_to * IFD_BYTES if loop_to is not None else 0
        out += _ifd(_entries(rows, columns, strip_offset, len(strip), compression, pixel), following)
    path.write_bytes(bytes(out))
    return path


def zlib_bomb(path: Path, pages: int = 8, side: int = 8192) -> Path:
    """Pages declaring ``side``^2 uint16, zlib-compressed, all sharing one small stream (a few kB on disk)."""
    return chained_tiff(path, pages, rows=side, columns=side, compression=8, data=zlib.compress(b"\0" * (1 << 20), 9))
