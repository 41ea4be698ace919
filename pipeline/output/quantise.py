"""The ``uint16`` output: a linear scale from the recovered volume's own robust range, recorded with the file.

``value = stored * scale + offset`` (value unit per count). The range is chosen from the *finished*
recovered volume: the 0.01st and 99.99th percentiles of a strided sample (read slab by slab, at most
a few million voxels), widened by 5 % of the span on each side. Why this and not the training target's
range or the first slabs: the output covers the scout's whole field of view, which may hold denser or
lighter material than the zoom region the model was trained on, and the first slabs see only the bottom
of the sample; percentiles (not min/max) keep a few extreme voxels from spending the 65,536 levels.
Values outside the range are clipped to 0 or 65535 and their share is recorded.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

OutputDtype = Literal["float32", "uint16"]
LEVELS = 65535
PERCENTILES = (0.01, 99.99)
MARGIN = 0.05
MAX_SAMPLES = 4_000_000
SLAB_Z = 8


class LinearScale(BaseModel):
    """``value = stored * scale + offset``; ``low``/``high`` the robust range it was chosen from (value unit)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dtype: Literal["uint16"] = "uint16"
    scale: float = Field(gt=0, description="value unit per stored count (one quantisation step)")
    offset: float = Field(description="value of stored count 0")
    low: float
    high: float
    source: str = Field(description="how the range was chosen")
    clipped_fraction: float | None = Field(None, description="share of sampled voxels outside the stored range")

    def encode(self, values: Any) -> np.ndarray:
        """Float values -> uint16 counts (rounded to nearest, clipped to 0..65535)."""
        counts = np.rint((np.asarray(values, np.float64) - self.offset) / self.scale)
        return np.clip(counts, 0, LEVELS).astype(np.uint16)

    def decode(self, stored: Any) -> np.ndarray:
        """uint16 counts -> float32 values."""
        return (np.asarray(stored, np.float64) * self.scale + self.offset).astype(np.float32)


def scale_for_range(low: float, high: float, source: str, margin: float = MARGIN) -> LinearScale:
    """A scale whose 65,536 levels span ``[low, high]`` widened by ``margin`` of the span on each side."""
    span = float(high - low)
    if not np.isfinite(span) or span <= 0:
        span = max(abs(float(low)), 1.0) * 1e-3
    lo = float(low) - margin * span
    hi = float(high) + margin * span
    return LinearScale(scale=(hi - lo) / LEVELS, offset=lo, low=float(low), high=float(high), source=source)


def strided_sample(volume: Any, max_samples: int = MAX_SAMPLES) -> np.ndarray:
    """A regular sample of ``volume`` ([z, y, x] array-like) of at most about ``max_samples`` voxels, read
    ``SLAB_Z`` slices at a time (so a memmap or Zarr is never read whole)."""
    nz, ny, nx = (int(n) for n in volume.shape)
    stride = max(1, int(np.ceil((nz * ny * nx / max_samples) ** (1.0 / 3.0))))
    parts = []
    for z0 in range(0, nz, SLAB_Z * stride):
        block = np.asarray(volume[z0 : min(nz, z0 + SLAB_Z * stride)])
        parts.append(np.asarray(block[::stride, ::stride, ::stride], np.float32).ravel())
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def choose_scale(volume: Any, percentiles: tuple[float, float] = PERCENTILES) -> LinearScale:
    """The scale for ``volume`` (see module docstring), with the sampled clipped share recorded."""
    sample = strided_sample(volume)
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return scale_for_range(0.0, 1.0, "empty volume")
    low, high = (float(v) for v in np.percentile(sample, percentiles))
    scale = scale_for_range(low, high, f"percentiles {percentiles[0]}-{percentiles[1]} of the recovered volume")
    top = scale.offset + LEVELS * scale.scale
    clipped = float(np.mean((sample < scale.offset) | (sample > top)))
    return scale.model_copy(update={"clipped_fraction": clipped})
