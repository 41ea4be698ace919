"""What a pair's output will be written as, and whether it fits on the disk, decided before any of it is computed."""

from __future__ import annotations

import shutil
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from pipeline.errors import StageError

FLOAT32_BYTES = 4
PYRAMID_FACTOR = 8.0 / 7.0  # levels 1.. of a 2x2x2 pyramid add at most 1/7 of level 0
HEADROOM = 1.05


class OutputPlan(BaseModel):
    """The recovered volume's formats and the disk it needs (bytes; compression not counted, so an upper bound)."""

    model_config = ConfigDict(frozen=True)

    formats: tuple[str, ...]
    voxels: int
    needs_bytes: int

    @property
    def zarr(self) -> bool:
        return "ome-zarr" in self.formats

    @property
    def tiff(self) -> bool:
        return "ome-tiff" in self.formats


def plan_output(fmt: str, voxels: int, auto_zarr_above_gb: float, scout_scratch: bool = True) -> OutputPlan:
    """Formats for ``fmt`` (``auto``: OME-TIFF up to ``auto_zarr_above_gb`` of float32, OME-Zarr above) and the bytes
    needed:
    the scout on the output grid (scratch; none with ``scout_scratch=False``, when it is streamed into inference),
    the recovered volume (a scratch memmap for OME-TIFF, or the Zarr itself with its pyramid and mask label), and the
    OME-TIFF file."""
    volume_bytes = voxels * FLOAT32_BYTES
    if fmt == "auto":
        formats: tuple[str, ...] = ("ome-zarr",) if volume_bytes > auto_zarr_above_gb * 1e9 else ("ome-tiff",)
    elif fmt == "both":
        formats = ("ome-tiff", "ome-zarr")
    else:
        formats = (fmt,)
    needs = volume_bytes if scout_scratch else 0  # scout on the output grid
    if "ome-zarr" in formats:
        needs += int(volume_bytes * PYRAMID_FACTOR) + voxels  # pyramid + uint8 mask label
    else:
        needs += volume_bytes  # recovered scratch memmap
    if "ome-tiff" in formats:
        needs += volume_bytes
    return OutputPlan(formats=formats, voxels=voxels, needs_bytes=int(needs * HEADROOM))


def check_disk_space(plan: OutputPlan, directory: Path) -> None:
    """Fail the pair clearly, before the long work, when ``directory``'s file system cannot hold the output."""
    directory = Path(directory)
    probe = directory if directory.exists() else next(p for p in directory.parents if p.exists())
    free = shutil.disk_usage(probe).free
    if plan.needs_bytes > free:
        raise StageError(
            "reconstruct_output",
            f"the output region ({plan.voxels:,} voxels, as {' and '.join(plan.formats)}) needs about "
            f"{plan.needs_bytes / 1e9:.2f} GB of disk, but only {free / 1e9:.2f} GB are free on {probe}; "
            "choose a smaller region (pipeline.output.region) or free space",
            {"needs_bytes": plan.needs_bytes, "free_bytes": free},
        )
