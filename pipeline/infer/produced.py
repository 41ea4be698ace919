"""An inference source made on demand: slices of a ``[z, y, x]`` volume produced as inference reads them.

:func:`pipeline.infer.stream.infer_volume` reads its source one slab at a
time (``source[lo:hi]``, the slab with its z halo). A :class:`ProducedSource`
answers each read by calling ``produce(z0, z1, out)`` (e.g. FDK of those
slices, :class:`pipeline.reconstruct.streamed.SlabReconstructor`) for the
slices it does not hold yet, so the whole volume is never held: only the last
block read is kept, and the halo slices that consecutive slabs share are made
once. A ``keep`` window of slices is copied aside as they are made (what a
later stage reads, e.g. the assessment's central window).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Produce = Callable[[int, int, np.ndarray], None]


class ProducedSource:
    """A float32 volume of ``shape`` ``(z, y, x)`` read by z ranges (``source[z0:z1]``); ``produce(z0, z1, out)``
    fills ``out`` (``[z1 - z0, y, x]``) with slices ``[z0, z1)``. ``keep`` ``(k0, k1)``: slices copied aside."""

    dtype = np.dtype(np.float32)
    ndim = 3

    def __init__(self, shape: tuple[int, int, int], produce: Produce, keep: tuple[int, int] | None = None) -> None:
        self.shape = tuple(int(n) for n in shape)
        self.produce = produce
        self._block = np.zeros((0, *self.shape[1:]), np.float32)
        self._block_z0 = 0
        k0, k1 = keep if keep is not None else (0, 0)
        if not 0 <= k0 <= k1 <= self.shape[0]:
            raise ValueError(f"keep window {keep} outside [0, {self.shape[0]}]")
        self.keep_z = (k0, k1)
        self._kept = np.zeros((k1 - k0, *self.shape[1:]), np.float32)
        self._kept_done = np.zeros(k1 - k0, bool)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: slice) -> np.ndarray:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("a ProducedSource is read by z ranges only (source[z0:z1])")
        z0, z1, _ = key.indices(self.shape[0])
        z1 = max(z0, z1)
        block = np.empty((z1 - z0, *self.shape[1:]), np.float32)
        b0, b1 = self._block_z0, self._block_z0 + len(self._block)
        s0, s1 = max(z0, b0), min(z1, b1)  # the part the last block already holds
        if s0 < s1:
            block[s0 - z0 : s1 - z0] = self._block[s0 - b0 : s1 - b0]
            self._make(z0, s0, block[: s0 - z0])
            self._make(s1, z1, block[s1 - z0 :])
        else:
            self._make(z0, z1, block)
        self._block, self._block_z0 = block, z0
        return block

    def kept(self) -> np.ndarray:
        """Slices ``keep_z`` of the volume; any not made by the reads so far (skipped on a resume) are made now."""
        k0, _ = self.keep_z
        missing = np.flatnonzero(~self._kept_done)
        for start, stop in _runs(missing):
            self._make(k0 + start, k0 + stop, self._kept[start:stop])
        return self._kept

    def _make(self, z0: int, z1: int, out: np.ndarray) -> None:
        if z1 <= z0:
            return
        self.produce(z0, z1, out)
        k0, k1 = self.keep_z
        a, b = max(z0, k0), min(z1, k1)
        if a < b:
            self._kept[a - k0 : b - k0] = out[a - z0 : b - z0]
            self._kept_done[a - k0 : b - k0] = True


def _runs(indices: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive runs ``[start, stop)`` of sorted integer ``indices``."""
    if indices.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(indices) > 1)
    starts = np.concatenate([[indices[0]], indices[breaks + 1]])
    stops = np.concatenate([indices[breaks], [indices[-1]]]) + 1
    return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True)]
