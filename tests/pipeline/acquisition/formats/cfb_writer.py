"""A minimal writer of OLE2 compound files (MS-CFB, version 3, 512-byte sectors), for test fixtures.

``olefile`` only reads, and no maintained PyPI package writes compound files
(``cfb`` reads only), so ZEISS ``.txrm``/``.txm`` fixtures are written here,
from Microsoft's published specification [MS-CFB] alone, not from any
reader's code: header (section 2.2), FAT chains (2.3), mini FAT and mini
stream for streams under 4096 bytes (2.4-2.5), directory entries of 128 bytes
whose siblings form a binary search tree ordered by name length then
upper-case name (2.6). Colours are all black (readers do not check them).
Limits: at most 109 FAT sectors (files up to ~7 MB), no DIFAT.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from pathlib import Path

SECTOR, MINI, CUTOFF = 512, 64, 4096
FREESECT, ENDOFCHAIN, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
STORAGE, STREAM, ROOT = 1, 2, 5


@dataclass
class _Entry:
    name: str
    kind: int
    data: bytes = b""
    children: list[int] = field(default_factory=list)
    left: int = NOSTREAM
    right: int = NOSTREAM
    child: int = NOSTREAM
    start: int = ENDOFCHAIN
    size: int = 0


def _key(name: str) -> tuple[int, str]:
    return (len(name), name.upper())


def _tree(entries: list[_Entry], ids: list[int]) -> int:
    """Balanced binary search tree of sibling ``ids``; returns the root id."""
    if not ids:
        return NOSTREAM
    ordered = sorted(ids, key=lambda i: _key(entries[i].name))
    middle = len(ordered) // 2
    root = ordered[middle]
    entries[root].left = _tree(entries, ordered[:middle])
    entries[root].right = _tree(entries, ordered[middle + 1 :])
    return root


def _entries(streams: dict[str, bytes]) -> list[_Entry]:
    entries = [_Entry("Root Entry", ROOT)]
    storages: dict[str, int] = {"": 0}
    for path, data in streams.items():
        parts = path.split("/")
        parent = ""
        for depth, part in enumerate(parts):
            here = "/".join(parts[: depth + 1])
            last = depth == len(parts) - 1
            if last:
                entries.append(_Entry(part, STREAM, data=data, size=len(data)))
                entries[storages[parent]].children.append(len(entries) - 1)
            elif here not in storages:
                entries.append(_Entry(part, STORAGE))
                storages[here] = len(entries) - 1
                entries[storages[parent]].children.append(storages[here])
            parent = here
    for entry in entries:
        entry.child = _tree(entries, entry.children)
    return entries


def _chain(fat: list[int], first: int, count: int) -> None:
    for offset in range(count):
        fat[first + offset] = first + offset + 1 if offset < count - 1 else ENDOFCHAIN


def _directory_bytes(entry: _Entry | None) -> bytes:
    if entry is None:
        return (
            b"\x00" * 64
            + struct.pack("<HBBIII", 0, 0, 0, NOSTREAM, NOSTREAM, NOSTREAM)
            + b"\x00" * 36
            + struct.pack("<IQ", 0, 0)
        )
    name = entry.name.encode("utf-16-le") + b"\x00\x00"
    if len(name) > 64:
        raise ValueError(f"name too long: {entry.name}")
    return (
        name.ljust(64, b"\x00")
        + struct.pack("<HBBIII", len(name), entry.kind, 1, entry.left, entry.right, entry.child)
        + b"\x00" * 16
        + b"\x00" * 4
        + b"\x00" * 16  # CLSID, state bits, creation and modified times
        + struct.pack("<IQ", entry.start, entry.size)
    )


def write_compound_file(path: Path, streams: dict[str, bytes]) -> None:
    """Write ``streams`` (``"Storage/Stream": bytes``) as a compound file at ``path``."""
    entries = _entries(streams)
    small = [e for e in entries if e.kind == STREAM and 0 < e.size < CUTOFF]
    big = [e for e in entries if e.kind == STREAM and e.size >= CUTOFF]
    n_mini = sum(math.ceil(e.size / MINI) for e in small)
    n_dir = math.ceil(len(entries) * 128 / SECTOR)
    n_minifat = math.ceil(n_mini * 4 / SECTOR)
    n_ministream = math.ceil(n_mini * MINI / SECTOR)
    n_big = sum(math.ceil(e.size / SECTOR) for e in big)
    n_other = n_dir + n_minifat + n_ministream + n_big
    n_fat = 1
    while n_fat * (SECTOR // 4) < n_fat + n_other:
        n_fat += 1
    if n_fat > 109:
        raise ValueError("fixture too large for a header-only DIFAT")
    total = n_fat + n_other
    fat = [FREESECT] * (n_fat * SECTOR // 4)
    for s in range(n_fat):
        fat[s] = FATSECT
    dir_start = n_fat
    _chain(fat, dir_start, n_dir)
    minifat_start = dir_start + n_dir
    _chain(fat, minifat_start, n_minifat)
    ministream_start = minifat_start + n_minifat
    _chain(fat, ministream_start, n_ministream)
    minifat = [FREESECT] * (n_minifat * SECTOR // 4)
    ministream = bytearray()
    next_mini = 0
    for entry in small:
        count = math.ceil(entry.size / MINI)
        entry.start = next_mini
        _chain(minifat, next_mini, count)
        ministream += entry.data.ljust(count * MINI, b"\x00")
        next_mini += count
    body = bytearray()
    next_sector = ministream_start + n_ministream
    for entry in big:
        count = math.ceil(entry.size / SECTOR)
        entry.start = next_sector
        _chain(fat, next_sector, count)
        body += entry.data.ljust(count * SECTOR, b"\x00")
        next_sector += count
    root = entries[0]
    root.start, root.size = (ministream_start, n_mini * MINI) if n_mini else (ENDOFCHAIN, 0)
    difat = list(range(n_fat)) + [FREESECT] * (109 - n_fat)
    header = (
        bytes.fromhex("D0CF11E0A1B11AE1")
        + b"\x00" * 16
        + struct.pack("<HHHHH", 0x003E, 0x0003, 0xFFFE, 9, 6)
        + b"\x00" * 6
        + struct.pack(
            "<IIIIIIIII",
            0,
            n_fat,
            dir_start,
            0,
            CUTOFF,
            minifat_start if n_minifat else ENDOFCHAIN,
            n_minifat,
            ENDOFCHAIN,
            0,
        )
        + struct.pack("<109I", *difat)
    )
    directory = b"".join(_directory_bytes(e) for e in entries)
    directory += _directory_bytes(None) * (n_dir * SECTOR // 128 - len(entries))
    out = bytearray(header)
    out += struct.pack(f"<{len(fat)}I", *fat)
    out += directory
    out += struct.pack(f"<{len(minifat)}I", *minifat) if minifat else b""
    out += bytes(ministream).ljust(n_ministream * SECTOR, b"\x00")
    out += body
    assert len(out) == SECTOR * (1 + total), (len(out), total)
    Path(path).write_bytes(bytes(out))
