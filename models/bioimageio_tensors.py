"""Test tensors and the cover image of a BioImage Model Zoo package (numpy, ONNX Runtime, matplotlib).

The test input is one ``[1, H, W, slices]`` stack of adjacent z-slices in the
volume's own units (1/mm: linear attenuation), either cut from a sample volume
on the zoom grid or, without one, a synthetic foam-like slab spanning the
model's normalisation range; the test output is what the packaged ONNX graph
makes of it, back in the same units.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.errors import InputError
from models.trained import Normalisation

TEST_TILE_PX = 64  # H = W of the test tensors (rounded up to the model's pad multiple)


def test_tile_px(pad_multiple_px: int, wanted_px: int = TEST_TILE_PX) -> int:
    """Smallest multiple of ``pad_multiple_px`` at least ``wanted_px``."""
    return -(-wanted_px // pad_multiple_px) * pad_multiple_px


def synthetic_slab(slices: int, tile_px: int, normalisation: Normalisation, seed: int = 0) -> np.ndarray:
    """``[slices, tile_px, tile_px]`` float32: smooth pores in a matrix, values ``offset`` to ``offset + scale``."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.standard_normal((slices + 8, tile_px, tile_px)), sigma=(2.0, 4.0, 4.0))[4:-4]
    solid = (field > np.percentile(field, 30)).astype(np.float32)
    smooth = ndimage.gaussian_filter(solid, sigma=1.0) + 0.02 * rng.standard_normal(solid.shape)
    return (normalisation.offset + normalisation.scale * smooth).astype(np.float32)


def slab_from_volume(volume: np.ndarray, slices: int, tile_px: int) -> np.ndarray:
    """The centre ``[slices, tile_px, tile_px]`` block of a ``[z, y, x]`` volume (``InputError`` if it is smaller)."""
    volume = np.asarray(volume)
    if volume.ndim != 3 or volume.shape[0] < slices or min(volume.shape[1:]) < tile_px:
        raise InputError(
            None, f"sample volume {volume.shape} is smaller than {slices} slices of {tile_px}x{tile_px} px"
        )
    z0 = (volume.shape[0] - slices) // 2
    y0, x0 = ((n - tile_px) // 2 for n in volume.shape[1:])
    return np.ascontiguousarray(volume[z0 : z0 + slices, y0 : y0 + tile_px, x0 : x0 + tile_px], dtype=np.float32)


def read_sample_volume(path: Path) -> np.ndarray:
    """A ``[z, y, x]`` volume from a (multi-page, OME-) TIFF or a ``.npy`` file."""
    path = Path(path)
    try:
        if path.suffix == ".npy":
            return np.load(path, mmap_mode="r")
        import tifffile

        return tifffile.imread(path)
    except (OSError, ValueError) as error:
        raise InputError(path, f"cannot read the sample volume: {error}") from None


def run_onnx(onnx_path: Path, stack: np.ndarray, normalisation: Normalisation) -> np.ndarray:
    """``[1, H, W, 1]`` output of the ONNX graph for a ``[1, H, W, slices]`` stack in physical units."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {session.get_inputs()[0].name: normalisation.apply(stack)})[:1]
    output = np.asarray(output, np.float32)
    if output.ndim == 3:
        output = output[..., None]
    return normalisation.invert(output)


def test_tensors(slab_zyx: np.ndarray, onnx_path: Path, normalisation: Normalisation) -> tuple[np.ndarray, np.ndarray]:
    """(input ``[1, H, W, slices]``, output ``[1, H, W, 1]``) for a ``[slices, H, W]`` slab."""
    stack = np.ascontiguousarray(np.moveaxis(slab_zyx, 0, -1)[None], dtype=np.float32)
    return stack, run_onnx(onnx_path, stack, normalisation)


def write_cover(path: Path, stack: np.ndarray, output: np.ndarray) -> Path:
    """PNG, 2:1: the centre input slice (left) beside the model's output (right), one grey window."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    centre = stack[0, :, :, stack.shape[-1] // 2]
    side_by_side = np.concatenate([centre, output[0, :, :, 0]], axis=1)
    factor = max(1, 256 // side_by_side.shape[0])  # covers are looked at as thumbnails: at least 256 px high
    side_by_side = np.repeat(np.repeat(side_by_side, factor, axis=0), factor, axis=1)
    low, high = np.percentile(side_by_side, (1, 99))
    plt.imsave(path, np.clip(side_by_side, low, high), cmap="gray", vmin=low, vmax=high)
    return path


def write_sample_tiffs(directory: Path, stack: np.ndarray, output: np.ndarray) -> None:
    """``sample_input.tif`` ([y, x, slices]) and ``sample_output.tif`` ([y, x]): the test tensors for image viewers."""
    import tifffile

    tifffile.imwrite(directory / "sample_input.tif", stack[0])
    tifffile.imwrite(directory / "sample_output.tif", output[0, :, :, 0])
