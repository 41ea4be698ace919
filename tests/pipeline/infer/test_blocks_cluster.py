"""One volume's inference split by z blocks over a real two-process ``distributed.LocalCluster``.

The blocks go through the daemon's Dask seam (``daemon.executor.split``); the
zarr the two workers write equals, voxel for voxel and level by level, the one
written by this process alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.pipeline.infer.test_blocks import CHUNK_Z, CONFIG, NORM, MixRuntime, block_template

distributed = pytest.importorskip("distributed")

SHAPE = (40, 64, 64)  # 10 chunks of 4 slices; 64 px in-plane, so the pyramid has two levels


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    """Two worker processes, one thread each (no dashboard)."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def levels(root: Path) -> list[np.ndarray]:
    import zarr

    group = zarr.open_group(str(root), mode="r")
    return [np.asarray(group[str(level)]) for level in range(len(group.attrs["multiscales"][0]["datasets"]))]


def test_two_workers_write_the_same_zarr_as_one_process(client, tmp_path: Path) -> None:
    from daemon.executor.split import infer_split
    from pipeline.infer.stream import infer_volume
    from pipeline.output.zarr_volume import OmeZarrVolume

    volume = np.random.default_rng(9).normal(1.0, 0.3, SHAPE).astype(np.float32)
    template, created = block_template(tmp_path, volume)
    alone = OmeZarrVolume(tmp_path / "alone.ome.zarr", template.grid, chunk_z=CHUNK_Z)
    infer_volume(MixRuntime(), volume, alone, NORM, CONFIG)
    alone.finish(mask=np.ones(SHAPE, bool))

    results = infer_split(client, template, MixRuntime, blocks=2)
    created.finish(mask=np.ones(SHAPE, bool))  # pyramid and mask once, after all blocks

    assert [(r.z0, r.z1) for r in results] == [(0, 20), (20, 40)]
    assert len({r.worker for r in results}) == 2, "both workers wrote a block"
    split, whole = levels(template.target), levels(tmp_path / "alone.ome.zarr")
    assert len(split) == len(whole) == 2
    for a, b in zip(split, whole):
        np.testing.assert_array_equal(a, b)
