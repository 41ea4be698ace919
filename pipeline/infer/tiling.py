"""Tile geometry for 2D inference, as pure data (no arrays of the image, no model).

Along each axis the image is covered by *cores* (the part of a tile whose
output is kept) of ``tile_px - 2 * margin_px``; each tile *reads* its core plus
``margin_px`` of context on both sides (beyond the image edge: reflection) and
its output is cropped back to the core. Neighbouring cores overlap by at
least ``overlap_px - 2 * margin_px`` and are blended with linear (triangular)
weights that sum to one at every pixel. So a network whose receptive field
radius is at most ``margin_px`` gives exactly the same result tiled as on the
whole (reflect-padded) slice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class AxisTile:
    """One tile along one axis: ``read`` box (may leave ``[0, n)``), ``core`` written box, blending ``weights``."""

    read0: int
    read1: int
    core0: int
    core1: int
    weights: np.ndarray  # [core1 - core0]

    @property
    def crop0(self) -> int:
        """Offset of the core inside the tile's output."""
        return self.core0 - self.read0


@dataclass(frozen=True, eq=False)
class TileSpec:
    """A 2D tile: its y and x extents and its blending weights ``[core_y, core_x]``."""

    y: AxisTile
    x: AxisTile

    @property
    def read_shape(self) -> tuple[int, int]:
        return (self.y.read1 - self.y.read0, self.x.read1 - self.x.read0)

    @property
    def core_shape(self) -> tuple[int, int]:
        return (self.y.core1 - self.y.core0, self.x.core1 - self.x.core0)

    @property
    def weights(self) -> np.ndarray:
        return np.outer(self.y.weights, self.x.weights).astype(np.float32)


def axis_tiles(n: int, tile_px: int, overlap_px: int, margin_px: int) -> list[AxisTile]:
    """Cover ``[0, n)`` with tiles of ``tile_px`` (fewer if the axis is short); weights sum to one."""
    core = tile_px - 2 * margin_px
    blend = overlap_px - 2 * margin_px
    if core <= blend or blend < 0 or n < 1:
        raise ValueError(f"invalid tiling (n {n}, tile {tile_px}, overlap {overlap_px}, margin {margin_px})")
    if n <= core:
        starts = [0]
        core = n
    else:
        count = math.ceil((n - blend) / (core - blend))
        starts = [int(round(s)) for s in np.linspace(0, n - core, count)]
    raw = []
    for i, s in enumerate(starts):
        w = np.ones(core, np.float64)
        if i > 0:
            overlap = starts[i - 1] + core - s
            w[:overlap] = np.minimum(w[:overlap], (np.arange(overlap) + 0.5) / overlap)
        if i + 1 < len(starts):
            overlap = s + core - starts[i + 1]
            w[core - overlap :] = np.minimum(w[core - overlap :], 1.0 - (np.arange(overlap) + 0.5) / overlap)
        raw.append(w)
    total = np.zeros(n, np.float64)
    for s, w in zip(starts, raw):
        total[s : s + core] += w
    return [
        AxisTile(
            read0=s - margin_px, read1=s + core + margin_px, core0=s, core1=s + core, weights=w / total[s : s + core]
        )
        for s, w in zip(starts, raw)
    ]


def plan_tiles(shape_yx: tuple[int, int], tile_px: int, overlap_px: int, margin_px: int) -> list[TileSpec]:
    """Every 2D tile of a ``shape_yx`` slice, row by row; all tiles share one read shape."""
    ys = axis_tiles(shape_yx[0], tile_px, overlap_px, margin_px)
    xs = axis_tiles(shape_yx[1], tile_px, overlap_px, margin_px)
    return [TileSpec(y=y, x=x) for y in ys for x in xs]
