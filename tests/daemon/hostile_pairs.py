"""The bad-input corpus of issue 16 as pairs: each a complete fake pair with one hostile file, READY dropped in.

Every builder returns the regular expression that the pair's ``FAILED.json``
message must match: the file and the problem.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from tests.daemon.pairs import make_pair, metadata
from tests.pipeline.acquisition.hostile import chained_tiff, zlib_bomb


def _stack_pair(pair: Path) -> Path:
    """A fake pair whose zoom uses a ``projections.tif`` stack instead of numbered files."""
    make_pair(pair)
    zoom = pair / "zoom"
    for file in zoom.glob("proj_*.tif"):
        file.unlink()
    return zoom


def fifo_scan_json(pair: Path) -> str:
    make_pair(pair)
    (pair / "zoom" / "scan.json").unlink()
    os.mkfifo(pair / "zoom" / "scan.json")
    return r"zoom/scan.json: is a FIFO, expected a regular file"


def dev_zero_scan_json(pair: Path) -> str:
    make_pair(pair)
    (pair / "zoom" / "scan.json").unlink()
    (pair / "zoom" / "scan.json").symlink_to("/dev/zero")
    return r"zoom/scan.json: (is a character device|symbolic link leading outside)"


def self_looping_ifd(pair: Path) -> str:
    chained_tiff(_stack_pair(pair) / "projections.tif", 1, loop_to=0, pixel=(32, 3))
    return r"projections.tif: page directory chain loops"


def many_tiny_ifds(pair: Path) -> str:
    chained_tiff(_stack_pair(pair) / "projections.tif", 150_000, pixel=(32, 3))
    return r"projections.tif: more than 6 pages"


def flat_with_many_ifds(pair: Path) -> str:
    make_pair(pair)
    chained_tiff(pair / "zoom" / "flat.tif", 150_000, pixel=(32, 3))
    return r"flat.tif: more than 1000 pages"


def zlib_bomb_stack(pair: Path) -> str:
    zoom = _stack_pair(pair)
    document = json.loads(metadata("zoom").model_dump_json())
    document["geometry"]["detector_shape"] = [8192, 8192]
    document["geometry"]["angles_deg"]["count"] = 8
    (zoom / "scan.json").write_text(json.dumps(document))
    zlib_bomb(zoom / "projections.tif")
    return r"projections.tif: 8 projections of \(8192, 8192\) uint16 need about 5120 MiB to read, more than the 512 MiB"


def input_link_leaving_the_root(pair: Path) -> str:
    make_pair(pair)
    outside = pair.parents[1] / "elsewhere.tif"  # beside the watch root, not inside it
    victim = pair / "zoom" / "proj_00003.tif"
    victim.rename(outside)
    victim.symlink_to(outside)
    return r"proj_00003.tif: symbolic link leading outside"


CORPUS: dict[str, Callable[[Path], str]] = {
    "fifo-scan-json": fifo_scan_json,
    "dev-zero-scan-json": dev_zero_scan_json,
    "self-looping-ifd": self_looping_ifd,
    "150000-ifds": many_tiny_ifds,
    "flat-150000-ifds": flat_with_many_ifds,
    "zlib-bomb": zlib_bomb_stack,
    "input-link-outside": input_link_leaving_the_root,
}
