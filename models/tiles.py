"""Training tiles from a registered pair: 2.5D stacks, validation split, augmentation.

Pure numpy; the training loop (``models.train``) only sees batches.
"""

from __future__ import annotations

import numpy as np

from models.config import AugmentationConfig


def reflect_index(index: np.ndarray | int, size: int) -> np.ndarray:
    """Indices mirrored into ``[0, size)`` without repeating the edge (numpy's ``reflect``)."""
    index = np.asarray(index)
    if size == 1:
        return np.zeros_like(index)
    period = 2 * (size - 1)
    folded = np.mod(index, period)
    return np.where(folded >= size, period - folded, folded)


def stack_indices(z: int, slices: int, size: int) -> np.ndarray:
    """The ``slices`` z-indices centred on ``z``, reflected at the volume ends."""
    half = slices // 2
    return reflect_index(np.arange(z - half, z + half + 1), size)


def validation_slab(nz: int, fraction: float, validation_z: tuple[int, int] | None) -> tuple[int, int]:
    """The held-out z-range: ``validation_z`` or the top ``fraction`` of the volume (at least one slice)."""
    if validation_z is not None:
        z0, z1 = validation_z
        if not 0 <= z0 < z1 <= nz:
            raise ValueError(f"validation_z must lie in [0, {nz}] with z0 < z1 (got {validation_z})")
        return z0, z1
    count = max(1, int(round(nz * fraction)))
    return nz - count, nz


def fit_tile(tile_px: int, shape_yx: tuple[int, int], multiple: int) -> int:
    """Largest tile <= ``tile_px`` that fits the slice and is a multiple of ``multiple``."""
    tile = min(tile_px, *shape_yx) // multiple * multiple
    if tile < multiple:
        raise ValueError(f"slices of {shape_yx} px are smaller than the network's minimum tile ({multiple} px)")
    return tile


class TileSampler:
    """Random (or fixed) tiles of normalised input stacks, target and mask."""

    def __init__(
        self,
        inputs: np.ndarray,
        target: np.ndarray,
        mask: np.ndarray,
        slices: int,
        tile_px: int,
        z_choices: np.ndarray,
        min_mask_fraction: float,
        rng: np.random.Generator,
    ) -> None:
        self.inputs, self.target, self.mask = inputs, target, mask
        self.slices, self.tile = slices, tile_px
        self.z_choices = z_choices
        self.min_mask_fraction = min_mask_fraction
        self.rng = rng

    def _tile(self, z: int, y0: int, x0: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = self.tile
        zs = stack_indices(z, self.slices, self.inputs.shape[0])
        x = np.moveaxis(self.inputs[zs, y0 : y0 + t, x0 : x0 + t], 0, -1)
        return x, self.target[z, y0 : y0 + t, x0 : x0 + t, None], self.mask[z, y0 : y0 + t, x0 : x0 + t, None]

    def random_position(self) -> tuple[int, int, int]:
        """A position whose tile has enough valid field of view (best of a few tries)."""
        _, ny, nx = self.inputs.shape
        best, best_fraction = (0, 0, 0), -1.0
        for _ in range(20):
            z = int(self.rng.choice(self.z_choices))
            y0 = int(self.rng.integers(0, ny - self.tile + 1))
            x0 = int(self.rng.integers(0, nx - self.tile + 1))
            fraction = float(self.mask[z, y0 : y0 + self.tile, x0 : x0 + self.tile].mean())
            if fraction >= self.min_mask_fraction:
                return z, y0, x0
            if fraction > best_fraction:
                best, best_fraction = (z, y0, x0), fraction
        return best

    def batch(self, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tiles = [self._tile(*self.random_position()) for _ in range(size)]
        return tuple(np.stack(part).astype(np.float32) for part in zip(*tiles))  # type: ignore[return-value]

    def fixed_batch(self, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``count`` deterministic tiles spread over ``z_choices`` (validation)."""
        state = np.random.default_rng(12345)
        saved, self.rng = self.rng, state
        try:
            return self.batch(count)
        finally:
            self.rng = saved


def augment(
    x: np.ndarray, y: np.ndarray, m: np.ndarray, config: AugmentationConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random flips, 90-degree rotations, slice reversal and gain/offset, per tile, same for input and target."""
    x, y, m = x.copy(), y.copy(), m.copy()
    for b in range(x.shape[0]):
        xb, yb, mb = x[b], y[b], m[b]
        if config.flips and rng.random() < 0.5:
            xb, yb, mb = xb[::-1], yb[::-1], mb[::-1]
        if config.flips and rng.random() < 0.5:
            xb, yb, mb = xb[:, ::-1], yb[:, ::-1], mb[:, ::-1]
        if config.rotations:
            k = int(rng.integers(0, 4))
            xb, yb, mb = (np.rot90(a, k, axes=(0, 1)) for a in (xb, yb, mb))
        if config.slice_flip and rng.random() < 0.5:
            xb = xb[..., ::-1]
        gain = 1.0 + rng.uniform(-config.intensity_scale, config.intensity_scale)
        offset = rng.uniform(-config.intensity_offset, config.intensity_offset)
        x[b], y[b], m[b] = xb * gain + offset, yb * gain + offset, mb
    return x, y, m
