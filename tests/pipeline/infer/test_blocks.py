"""A volume cut into z blocks of whole chunks, each predicted on its own, equals one run over the whole volume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.trained import Normalisation
from pipeline.grid import VolumeGrid
from pipeline.infer.blocks import BlockTask, block_tasks, partition_z, run_block
from pipeline.infer.config import InferenceConfig
from pipeline.infer.stream import infer_volume
from pipeline.output.zarr_volume import OmeZarrVolume


class MixRuntime:
    """A small deterministic 'network': a weighted sum of the slices, a 3x3 box filter and a soft clip, in plain
    elementwise steps (a BLAS matmul rounds by the buffer's alignment, so its last bit depends on the batch), so
    any split into blocks must reproduce the whole run bit for bit; reaches 1 px in-plane and 2 slices in z."""

    name = "mix"

    def __init__(self, slices: int = 5) -> None:
        self.weights = np.linspace(0.5, 1.5, slices).astype(np.float32)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        from scipy import ndimage

        out = []
        for stack in batch:
            mixed = np.zeros(stack.shape[:2], np.float32)
            for i, weight in enumerate(self.weights):
                mixed = mixed + stack[..., i] * weight
            filtered = ndimage.uniform_filter(mixed, 3, mode="constant")
            out.append(filtered / (np.float32(1.0) + np.abs(filtered)))
        return np.stack(out)


SHAPE = (22, 40, 36)
CHUNK_Z = 4
CONFIG = InferenceConfig(tile_px=32, overlap_px=8, batch_size=3, slab_z=8)
NORM = Normalisation(offset=0.5, scale=2.0)


@pytest.mark.parametrize(
    "nz, chunk_z, blocks, expected",
    [
        (99, 8, 2, [(0, 56), (56, 99)]),  # 13 chunks: 7 + 6
        (96, 8, 3, [(0, 32), (32, 64), (64, 96)]),
        (10, 8, 4, [(0, 8), (8, 10)]),  # never more blocks than chunks
        (5, 8, 3, [(0, 5)]),
        (20, 1, 1, [(0, 20)]),
    ],
)
def test_partition_covers_z_in_whole_chunks(nz: int, chunk_z: int, blocks: int, expected: list) -> None:
    bounds = partition_z(nz, chunk_z, blocks)

    assert bounds == expected
    assert all(z0 % chunk_z == 0 for z0, _ in bounds) and bounds[-1][1] == nz


@pytest.mark.parametrize("nz, chunk_z, blocks", [(0, 8, 2), (10, 0, 2), (10, 8, 0)])
def test_partition_refuses_empty_inputs(nz: int, chunk_z: int, blocks: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        partition_z(nz, chunk_z, blocks)


def block_template(tmp_path: Path, volume: np.ndarray) -> tuple[BlockTask, OmeZarrVolume]:
    """The source saved as .npy and a partial OME-Zarr created, as the caller of a split does."""
    source = tmp_path / "source.npy"
    np.save(source, volume)
    grid = VolumeGrid.isotropic(volume.shape, 0.01)
    target = tmp_path / "split.ome.zarr"
    created = OmeZarrVolume(target, grid, chunk_z=CHUNK_Z, temporary_dir=tmp_path / "work", resume=True)
    template = BlockTask(
        source=source,
        target=target,
        temporary_dir=tmp_path / "work",
        grid=grid,
        chunk_z=CHUNK_Z,
        normalisation=NORM,
        inference=CONFIG,
        slices=5,
        fingerprint="job",
        z0=0,
        z1=volume.shape[0],
    )
    return template, created


def whole_run(tmp_path: Path, volume: np.ndarray) -> np.ndarray:
    """The reference: one process over the whole volume into an OME-Zarr of the same chunks."""
    import zarr

    grid = VolumeGrid.isotropic(volume.shape, 0.01)
    dest = OmeZarrVolume(tmp_path / "whole.ome.zarr", grid, chunk_z=CHUNK_Z)
    infer_volume(MixRuntime(), volume, dest, NORM, CONFIG)
    dest.finish()
    return np.asarray(zarr.open_group(str(tmp_path / "whole.ome.zarr"), mode="r")["0"])


def test_blocks_written_one_by_one_equal_the_whole_run(tmp_path: Path) -> None:
    import zarr

    volume = np.random.default_rng(5).normal(1.0, 0.3, SHAPE).astype(np.float32)
    template, created = block_template(tmp_path, volume)
    tasks = block_tasks(template, 4)  # 6 chunks: 2, 2, 1, 1 (the last two split a slab)

    stats = [run_block(task, MixRuntime) for task in reversed(tasks)]  # any order: blocks share no chunk
    created.finish()

    assert [(t.z0, t.z1) for t in tasks] == [(0, 8), (8, 16), (16, 20), (20, 22)]
    assert sum(s.voxels_computed or 0 for s in stats) == volume.size
    written = np.asarray(zarr.open_group(str(template.target), mode="r")["0"])
    np.testing.assert_array_equal(written, whole_run(tmp_path, volume))


def test_a_block_off_the_chunk_grid_or_without_its_partial_folder_is_refused(tmp_path: Path) -> None:
    volume = np.zeros(SHAPE, np.float32)
    template, created = block_template(tmp_path, volume)

    with pytest.raises(ValueError, match="whole chunks"):
        run_block(template.model_copy(update={"z0": 2, "z1": 8}), MixRuntime)
    created.discard()
    with pytest.raises(FileNotFoundError):
        run_block(template.model_copy(update={"z0": 0, "z1": 8}), MixRuntime)
