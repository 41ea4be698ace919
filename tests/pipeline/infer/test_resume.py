"""An interrupted inference continues from the slabs already written, and only for the same job."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.events import ProgressEvent
from models.trained import Normalisation
from pipeline.grid import VolumeGrid
from pipeline.infer.config import InferenceConfig
from pipeline.infer.resume import SlabLedger, job_fingerprint
from pipeline.infer.stream import infer_volume
from pipeline.output.volumes import scratch_volume
from pipeline.output.zarr_volume import OmeZarrVolume
from tests.pipeline.infer.test_stream import ConvRuntime

SHAPE = (24, 40, 36)
CONFIG = InferenceConfig(tile_px=32, overlap_px=8, batch_size=3, slab_z=4)
NORM = Normalisation(offset=0.5, scale=2.0)


class Interrupted(Exception):
    pass


class CountingRuntime(ConvRuntime):
    """ConvRuntime that counts the tiles it predicted."""

    def __init__(self) -> None:
        super().__init__()
        self.rows = 0

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.rows += batch.shape[0]
        return super().predict(batch)


def _stop_after(slabs: int):  # noqa: ANN202 - test helper
    """A progress listener that fails the run once ``slabs`` slabs are reported done."""
    seen = []

    def listen(event: ProgressEvent) -> None:
        seen.append(event)
        if len(seen) == slabs:
            raise Interrupted

    return listen


@pytest.fixture(scope="module")
def volume() -> np.ndarray:
    return np.random.default_rng(3).normal(1.0, 0.3, SHAPE).astype(np.float32)


@pytest.fixture(scope="module")
def uninterrupted(volume: np.ndarray) -> np.ndarray:
    dest = np.zeros(SHAPE, np.float32)
    infer_volume(ConvRuntime(), volume, dest, NORM, CONFIG)
    return dest


def test_a_memmap_run_cut_after_two_slabs_resumes_with_the_rest(
    tmp_path: Path, volume: np.ndarray, uninterrupted: np.ndarray
) -> None:
    dest = scratch_volume(tmp_path / "out.npy", SHAPE, reuse=True)
    fingerprint = job_fingerprint(model="m-1", shape=SHAPE, config=CONFIG, normalisation=NORM)
    with pytest.raises(Interrupted):
        infer_volume(
            ConvRuntime(),
            volume,
            dest,
            NORM,
            CONFIG,
            progress=_stop_after(2),
            ledger=SlabLedger(tmp_path / "l.json", fingerprint),
        )
    del dest

    reopened = scratch_volume(tmp_path / "out.npy", SHAPE, reuse=True)
    runtime = CountingRuntime()
    stats = infer_volume(runtime, volume, reopened, NORM, CONFIG, ledger=SlabLedger(tmp_path / "l.json", fingerprint))

    full = CountingRuntime()
    infer_volume(full, volume, np.zeros(SHAPE, np.float32), NORM, CONFIG)
    assert stats.slabs == 6 and stats.slabs_skipped == 2
    assert runtime.rows == full.rows * 4 // 6  # only the 4 remaining slabs were predicted
    assert stats.voxels_computed == 16 * SHAPE[1] * SHAPE[2]
    np.testing.assert_array_equal(np.asarray(reopened), uninterrupted)


def test_a_different_job_never_reuses_the_slabs(tmp_path: Path, volume: np.ndarray) -> None:
    dest = np.zeros(SHAPE, np.float32)
    ledger = tmp_path / "l.json"
    with pytest.raises(Interrupted):
        infer_volume(ConvRuntime(), volume, dest, NORM, CONFIG, progress=_stop_after(3), ledger=SlabLedger(ledger, "a"))

    stats = infer_volume(ConvRuntime(), volume, dest, NORM, CONFIG, ledger=SlabLedger(ledger, "b"))

    assert stats.slabs_skipped == 0 and stats.voxels_computed == stats.voxels


def test_an_ome_zarr_cut_mid_run_resumes_and_equals_an_uninterrupted_one(
    tmp_path: Path, volume: np.ndarray, uninterrupted: np.ndarray
) -> None:
    import zarr

    grid = VolumeGrid.isotropic(SHAPE, 0.01)
    target = tmp_path / "recovered.ome.zarr"
    first = OmeZarrVolume(target, grid, chunk_z=4, temporary_dir=tmp_path / "work", resume=True)
    with pytest.raises(Interrupted):
        infer_volume(ConvRuntime(), volume, first, NORM, CONFIG, progress=_stop_after(3), ledger=first.ledger("job"))

    second = OmeZarrVolume(target, grid, chunk_z=4, temporary_dir=tmp_path / "work", resume=True)
    stats = infer_volume(CountingRuntime(), volume, second, NORM, CONFIG, ledger=second.ledger("job"))
    second.finish()

    assert second.resumed and stats.slabs_skipped == 3
    np.testing.assert_array_equal(np.asarray(zarr.open_group(str(target), mode="r")["0"]), uninterrupted)
    assert not (target / ".scoutzoom-progress.json").exists()


def test_a_finish_cut_after_building_a_level_can_finish_again(tmp_path: Path) -> None:
    import zarr

    grid = VolumeGrid.isotropic((16, 64, 64), 0.01)
    values = np.random.default_rng(4).normal(size=grid.shape_zyx).astype(np.float32)
    first = OmeZarrVolume(tmp_path / "r.ome.zarr", grid, chunk_z=4, temporary_dir=tmp_path / "work", resume=True)
    first[:] = values
    first._build_level(1)  # the state a crash inside finish leaves: level 1 written, nothing renamed

    again = OmeZarrVolume(tmp_path / "r.ome.zarr", grid, chunk_z=4, temporary_dir=tmp_path / "work", resume=True)
    again.finish(mask=np.ones(grid.shape_zyx, bool))

    root = zarr.open_group(str(tmp_path / "r.ome.zarr"), mode="r")
    assert again.resumed and again.levels == 2
    np.testing.assert_array_equal(np.asarray(root["0"]), values)
    assert root["1"].shape == (8, 32, 32) and "mask" in root["labels"]
