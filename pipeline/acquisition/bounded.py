"""Bounded, link-aware access to untrusted input files.

Everything the scanner (or anyone with write access to a watch root) puts in a
pair is untrusted: ``scan.json`` may be a FIFO (``open`` blocks forever), a
link to ``/dev/zero`` (``read`` never ends) or a link to a file outside the
watch root. These helpers open only regular files, never block on open, read at
most a given number of bytes, and refuse links that leave an allowed folder.
Errors are :class:`InputError` naming the file and the problem, never quoting
its content.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from models.errors import InputError

MAX_METADATA_BYTES = 1 << 20  # a scan.json is a few kB; 1 MiB is generous


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def check_within(path: Path, boundary: Path | None) -> None:
    """Raise :class:`InputError` when ``path`` is, or passes through, a link leading outside ``boundary``.

    ``boundary`` None allows any link (policy ``follow``).
    """
    if boundary is None:
        return
    try:
        resolved = Path(os.path.realpath(path))
        inside = Path(os.path.realpath(boundary))
    except (OSError, RuntimeError) as error:  # RuntimeError: link loop on old Pythons
        raise InputError(path, f"cannot resolve path: {error}") from None
    if resolved != inside and inside not in resolved.parents:
        raise InputError(path, f"symbolic link leading outside {boundary} (not followed)")


def regular_file_stat(path: Path, boundary: Path | None = None) -> os.stat_result:
    """``stat`` of ``path`` (links followed within ``boundary``); :class:`InputError` unless a regular file."""
    check_within(path, boundary)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InputError(path, "missing") from None
    except OSError as error:
        raise InputError(path, f"cannot stat: {error.strerror or error}") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(path, f"is {_kind(info.st_mode)}, expected a regular file")
    return info


def open_regular(path: Path, boundary: Path | None = None) -> int:
    """A read-only descriptor of ``path``: never blocks (O_NONBLOCK), and checked again after open (a swap race)."""
    regular_file_stat(path, boundary)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise InputError(path, "missing") from None
    except OSError as error:
        raise InputError(path, f"cannot open: {error.strerror or error}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise InputError(path, f"is {_kind(info.st_mode)}, expected a regular file")
    return fd


def read_bounded(path: Path, max_bytes: int, boundary: Path | None = None) -> bytes:
    """The whole content of a regular file of at most ``max_bytes`` bytes."""
    fd = open_regular(path, boundary)
    try:
        size = os.fstat(fd).st_size
        if size > max_bytes:
            raise InputError(path, f"is {size} bytes, more than the {max_bytes} allowed")
        chunks, total = [], 0
        while total <= max_bytes:
            chunk = os.read(fd, min(1 << 16, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > max_bytes:
            raise InputError(path, f"grew beyond the {max_bytes} bytes allowed while being read")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_range(fd: int, offset: int, length: int) -> bytes:
    """``length`` bytes at ``offset`` of an open descriptor (fewer at end of file)."""
    return os.pread(fd, length, offset)
