"""The output plan: which formats a region is written as, and a clear failure when the disk cannot hold it."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.errors import StageError
from pipeline.output.plan import check_disk_space, plan_output


@pytest.mark.parametrize(
    "fmt, voxels, formats",
    [
        ("auto", 100**3, ("ome-tiff",)),  # 4 MB: one familiar file
        ("auto", 2048 * 2048 * 512, ("ome-zarr",)),  # 8.6 GB of float32: chunked, with a pyramid
        ("ome-tiff", 2048 * 2048 * 512, ("ome-tiff",)),
        ("both", 10, ("ome-tiff", "ome-zarr")),
    ],
)
def test_formats(fmt: str, voxels: int, formats: tuple[str, ...]) -> None:
    plan = plan_output(fmt, voxels, auto_zarr_above_gb=4.0)
    assert plan.formats == formats
    assert plan.needs_bytes >= 2 * 4 * voxels  # the scout on the output grid plus the recovered volume, float32


def test_an_output_larger_than_the_free_disk_fails_before_any_work(tmp_path: Path) -> None:
    plan = plan_output("ome-zarr", 10**15, auto_zarr_above_gb=4.0)  # a petavoxel
    with pytest.raises(StageError, match="GB of disk, but only") as raised:
        check_disk_space(plan, tmp_path / "not-yet-created" / "work")
    assert raised.value.stage == "reconstruct_output" and raised.value.figures["needs_bytes"] == plan.needs_bytes
    check_disk_space(plan_output("ome-tiff", 1000, 4.0), tmp_path)  # a small one fits
