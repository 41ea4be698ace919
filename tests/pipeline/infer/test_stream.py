"""Streaming inference equals running the model on whole (reflect-padded) slices."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from models.errors import Cancelled
from models.events import CancelToken, ProgressEvent
from models.trained import Normalisation
from pipeline.infer.config import InferenceConfig
from pipeline.infer.stream import infer_volume


class IdentityRuntime:
    """Returns the centre slice of each stack."""

    name = "identity"

    def __init__(self) -> None:
        self.shapes: set[tuple[int, ...]] = set()

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.shapes.add(batch.shape)
        return batch[..., batch.shape[-1] // 2].copy()


class ConvRuntime:
    """A small 'network': weighted sum of slices, 3x3 zero-padded box filter, then a nonlinearity.

    Receptive-field radius 1 px, so with a margin >= 1 tiles must match the whole slice exactly.
    """

    name = "conv"

    def __init__(self, slices: int = 5) -> None:
        self.weights = np.linspace(0.5, 1.5, slices).astype(np.float32)

    def __call__(self, stack_hwc: np.ndarray) -> np.ndarray:
        mixed = stack_hwc @ self.weights
        return np.tanh(ndimage.uniform_filter(mixed, 3, mode="constant"))

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return np.stack([self(b) for b in batch])


def whole_slice_reference(
    model: ConvRuntime, volume: np.ndarray, norm: Normalisation, margin: int, slices: int = 5
) -> np.ndarray:
    x = norm.apply(volume)
    half = slices // 2
    padded_z = np.pad(x, ((half, half), (0, 0), (0, 0)), mode="reflect")
    out = []
    for z in range(volume.shape[0]):
        stack = np.moveaxis(padded_z[z : z + slices], 0, -1)
        stack = np.pad(stack, ((margin, margin), (margin, margin), (0, 0)), mode="reflect")
        out.append(model(stack)[margin : -margin or None, margin : -margin or None])
    return norm.invert(np.stack(out))


@pytest.fixture()
def volume() -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.normal(100.0, 10.0, (11, 70, 93)).astype(np.float32)


def test_identity_model_reproduces_the_volume(volume):
    dest = np.zeros_like(volume)
    norm = Normalisation(offset=90.0, scale=25.0)
    runtime = IdentityRuntime()
    stats = infer_volume(
        runtime, volume, dest, norm, InferenceConfig(tile_px=40, overlap_px=16, batch_size=3, slab_z=4)
    )
    np.testing.assert_allclose(dest, volume, rtol=1e-5)
    assert len(runtime.shapes) == 1, "every batch must have one shape"
    assert stats.voxels == volume.size and stats.slabs == 3


@pytest.mark.parametrize("slab_z", [1, 4, 11])
def test_conv_model_tiled_equals_whole_slice(volume, slab_z):
    config = InferenceConfig(tile_px=32, overlap_px=12, margin_px=2, batch_size=5, slab_z=slab_z)
    norm = Normalisation(offset=100.0, scale=10.0)
    model = ConvRuntime()
    dest = np.zeros_like(volume)
    infer_volume(model, volume, dest, norm, config)
    expected = whole_slice_reference(model, volume, norm, margin=2)
    np.testing.assert_allclose(dest, expected, atol=1e-4)


def test_streams_between_memmaps_and_reports_progress(tmp_path, volume):
    src = np.lib.format.open_memmap(tmp_path / "in.npy", mode="w+", dtype=np.float32, shape=volume.shape)
    src[:] = volume
    dst = np.lib.format.open_memmap(tmp_path / "out.npy", mode="w+", dtype=np.float32, shape=volume.shape)
    events: list[ProgressEvent] = []
    norm = Normalisation(offset=0.0, scale=1.0)
    infer_volume(
        IdentityRuntime(), src, dst, norm, InferenceConfig(tile_px=64, overlap_px=16, slab_z=5), progress=events.append
    )
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), volume, rtol=1e-6)
    assert [e.done for e in events] == [5, 10, 11]
    assert all(e.total == 11 and e.stage == "infer" for e in events)


def test_memory_per_slab_does_not_grow_with_depth():
    norm = Normalisation(offset=0.0, scale=1.0)
    config = InferenceConfig(tile_px=32, overlap_px=8, memory_budget_gb=0.001)
    sizes = []
    for nz in (8, 64):
        vol = np.zeros((nz, 40, 40), np.float32)
        sizes.append(infer_volume(IdentityRuntime(), vol, np.zeros_like(vol), norm, config).slab_bytes)
    assert sizes[0] == sizes[1]


def test_cancel_stops_before_work():
    token = CancelToken()
    token.cancel()
    vol = np.zeros((4, 16, 16), np.float32)
    with pytest.raises(Cancelled):
        infer_volume(
            IdentityRuntime(),
            vol,
            np.zeros_like(vol),
            Normalisation(offset=0, scale=1),
            InferenceConfig(tile_px=16, overlap_px=4),
            cancel=token,
        )


class ChannelsRuntime(IdentityRuntime):
    """A broken runtime: returns every slice of the stack, not one prediction per tile."""

    name = "channels"

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return np.moveaxis(batch, -1, 1).copy()


def test_a_runtime_returning_the_wrong_shape_is_named_with_both_shapes() -> None:
    volume = np.zeros((6, 40, 40), np.float32)
    config = InferenceConfig(tile_px=32, overlap_px=8, batch_size=4)
    expected = r"runtime channels returned \(4, 5, 32, 32\) for a batch of \(4, 32, 32, 5\)"
    with pytest.raises(RuntimeError, match=expected):
        infer_volume(ChannelsRuntime(), volume, np.zeros_like(volume), Normalisation(offset=0.0, scale=1.0), config)
