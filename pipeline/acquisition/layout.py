"""File names of a scan directory (contract v1)."""

from __future__ import annotations

import re
from pathlib import Path

METADATA = "scan.json"
STACK = "projections.tif"
FLAT = "flat.tif"
DARK = "dark.tif"
PROJECTION_PATTERN = re.compile(r"^proj_(\d+)\.tiff?$")
SCOUT = "scout"
ZOOM = "zoom"
READY = "READY"


def projection_name(index: int) -> str:
    return f"proj_{index:05d}.tif"


def numbered_projections(scan_dir: Path) -> dict[int, Path]:
    """The ``proj_NNNNN.tif`` files of a scan, by number (hidden/temporary files ignored)."""
    found: dict[int, Path] = {}
    try:
        entries = list(scan_dir.iterdir())
    except FileNotFoundError:
        return found
    for entry in entries:
        match = PROJECTION_PATTERN.match(entry.name)
        if match and entry.is_file():
            found[int(match.group(1))] = entry
    return found
