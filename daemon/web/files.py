"""Files of a pair's output folder the status page may serve: read-only, never through a link leaving the root.

Only names a pair writes are served (``report.html``, ``report.json``,
``FAILED.json``, ``previews/*.png``), from the job's output folder, and only
when the file's real path lies inside the real path of the allowed root (the
output root, or the pair itself with ``inside_pair``). Sizes are bounded, so a
huge or special file cannot tie up the listener.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

MAX_FILE_BYTES = 64 << 20
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".png": "image/png",
}
_SERVABLE = re.compile(r"^(report\.html|report\.json|FAILED\.json|previews/[A-Za-z0-9_.-]+\.png)$")
# the preview the page shows as a thumbnail, first found wins
THUMBNAILS = ("previews/heldout_axial.png", "previews/zoom_region_axial.png", "previews/output_axial.png")


def servable_name(name: str) -> bool:
    """True for the output names the page serves (no '..', no other folder)."""
    return bool(_SERVABLE.match(name)) and ".." not in name


def inside(path: Path, root: Path) -> bool:
    """True when ``path``'s real location is ``root``'s real location or below it."""
    try:
        real, real_root = Path(os.path.realpath(path)), Path(os.path.realpath(root))
    except (OSError, RuntimeError):
        return False
    return real == real_root or real_root in real.parents


def resolve(out_dir: Path, name: str, allowed_root: Path) -> Path | None:
    """The file ``name`` of ``out_dir`` if it may be served: allowed name, regular file, bounded, inside the root."""
    if not servable_name(name):
        return None
    path = out_dir / name
    if not inside(path, allowed_root):
        return None
    try:
        info = path.stat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
        return None
    return path


def read_bounded(path: Path, limit_bytes: int = MAX_FILE_BYTES) -> bytes | None:
    """At most ``limit_bytes`` of ``path`` (regular files only, no link at the last step); None if unreadable."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit_bytes:
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(limit_bytes + 1)[:limit_bytes]
    except OSError:
        return None
    finally:
        os.close(fd)


def content_type(name: str) -> str:
    return CONTENT_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


def thumbnail(out_dir: Path, allowed_root: Path) -> str | None:
    """The name of the first preview that can be served, or None."""
    for name in THUMBNAILS:
        if resolve(out_dir, name, allowed_root) is not None:
            return name
    return None
