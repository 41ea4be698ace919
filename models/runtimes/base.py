"""The runtime seam: the protocol every inference runtime implements, and the padding they share.

Every runtime takes normalised ``[B, H, W, slices]`` float32 stacks of any H
and W and returns ``[B, H, W]``: it reflect-pads H and W up to the network's
multiple (``2**depth``, read from the ONNX metadata) and crops the result, so
the tiler may use any tile size.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np

RuntimeName = Literal["auto", "tensorrt", "onnxruntime", "keras"]
EngineCallback = Callable[[Path, tuple[int, ...], str], None]  # (engine file, input shape, precision)


@runtime_checkable
class InferenceRuntime(Protocol):
    name: str

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """``[B, H, W, slices]`` normalised stacks -> ``[B, H, W]`` normalised centre-slice predictions."""
        ...


def pad_to_multiple(batch: np.ndarray, multiple: int) -> tuple[np.ndarray, int, int]:
    """Reflect-pad H and W (bottom/right) up to a multiple; returns the padded batch and the original H, W."""
    _, h, w, _ = batch.shape
    pad_h, pad_w = (-h) % multiple, (-w) % multiple
    if pad_h or pad_w:
        mode = "reflect" if pad_h < h and pad_w < w else "symmetric"
        batch = np.pad(batch, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode=mode)
    return np.ascontiguousarray(batch, np.float32), h, w


def onnx_metadata(onnx_path: Path) -> dict[str, str]:
    import onnx

    return {p.key: p.value for p in onnx.load(str(onnx_path), load_external_data=False).metadata_props}
