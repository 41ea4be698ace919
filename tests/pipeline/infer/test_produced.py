"""A source made on demand (the streamed output FDK) gives inference the same slabs as the whole array."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.trained import Normalisation
from pipeline.infer.config import InferenceConfig
from pipeline.infer.produced import ProducedSource
from pipeline.infer.resume import SlabLedger
from pipeline.infer.stream import infer_volume
from tests.pipeline.infer.test_stream import ConvRuntime

NORM = Normalisation(offset=0.5, scale=2.0)
CONFIG = InferenceConfig(tile_px=16, overlap_px=4, margin_px=2, batch_size=3, slab_z=5)


class Counting:
    """``produce`` from an array, counting how often each slice is made."""

    def __init__(self, volume: np.ndarray) -> None:
        self.volume = volume
        self.made = np.zeros(volume.shape[0], int)

    def __call__(self, z0: int, z1: int, out: np.ndarray) -> None:
        out[...] = self.volume[z0:z1]
        self.made[z0:z1] += 1


def volume(shape: tuple[int, int, int] = (23, 20, 18)) -> np.ndarray:
    return np.random.default_rng(3).random(shape, dtype=np.float32)


def test_inference_from_a_produced_source_equals_the_array_and_makes_each_slice_once() -> None:
    values = volume()
    produce = Counting(values)
    keep = (4, 15)
    source = ProducedSource(values.shape, produce, keep=keep)
    expected, streamed = np.zeros_like(values), np.zeros_like(values)
    infer_volume(ConvRuntime(), values, expected, NORM, CONFIG)
    stats = infer_volume(ConvRuntime(), source, streamed, NORM, CONFIG)
    np.testing.assert_array_equal(streamed, expected)
    assert produce.made.tolist() == [1] * values.shape[0]  # halo slices shared by consecutive slabs made once
    np.testing.assert_array_equal(source.kept(), values[keep[0] : keep[1]])
    assert produce.made.tolist() == [1] * values.shape[0]  # the window was kept on the way, not made again
    assert stats.read_seconds >= 0.0 and stats.read_seconds <= stats.seconds


def test_a_resumed_run_makes_only_the_slabs_it_computes_and_then_the_window(tmp_path: Path) -> None:
    values = volume()
    dest = np.zeros_like(values)
    infer_volume(ConvRuntime(), values, dest, NORM, CONFIG)
    ledger = SlabLedger(tmp_path / "ledger.json", "job")
    ledger.start(5)
    for z0, z1 in ((0, 5), (5, 10), (10, 15)):
        ledger.mark(z0, z1)
    produce = Counting(values)
    source = ProducedSource(values.shape, produce, keep=(4, 15))
    resumed = dest.copy()
    resumed[15:] = 0.0
    stats = infer_volume(
        ConvRuntime(), source, resumed, NORM, CONFIG, ledger=SlabLedger(tmp_path / "ledger.json", "job")
    )
    np.testing.assert_array_equal(resumed, dest)
    assert stats.slabs_skipped == 3
    assert produce.made[:13].sum() == 0 and (produce.made[13:] == 1).all()  # slab [15, 20) with its 2-slice halo
    np.testing.assert_array_equal(source.kept(), values[4:15])
    assert (produce.made[4:13] == 1).all() and (produce.made[13:15] == 1).all()  # missing window slices made once


def test_only_z_ranges_are_read() -> None:
    source = ProducedSource((4, 3, 3), Counting(volume((4, 3, 3))))
    with pytest.raises(TypeError):
        source[0]  # type: ignore[index]
    with pytest.raises(ValueError):
        ProducedSource((4, 3, 3), Counting(volume((4, 3, 3))), keep=(2, 6))
