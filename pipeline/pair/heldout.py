"""The zoom data a pair's model never trains on: a validation slab and a separate test slab.

The zoom's valid z-range is split from the bottom up into training slices, a
validation slab (model selection and early stopping) and, at the top, a test
slab. Every quoted figure (``report.json``'s ``quality`` and ``trust``, the
previews, the model cache's validation and the card's figures) comes from the
test slab alone, so nothing that chose the model also grades it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pydantic import BaseModel, ConfigDict

from models.errors import InputError
from models.trained import ValidationFigures
from models.trained import slab_figures as model_slab_figures

Slab = tuple[int, int]  # [start, stop) along z, zoom-grid slices


class HeldoutSlabs(BaseModel):
    """Where training stops and the two held-out slabs lie (``[start, stop)`` z-slices of the zoom grid)."""

    model_config = ConfigDict(frozen=True)

    validation: Slab
    test: Slab

    @property
    def train_stop(self) -> int:
        """Training may use slices below this (the test slab and everything above are cut off)."""
        return self.test[0]


def split_heldout(mask: np.ndarray, validation_fraction: float, test_fraction: float, min_slices: int) -> HeldoutSlabs:
    """Validation and test slabs at the top of ``mask``'s valid z-range, each at least ``min_slices`` thick.

    At least ``2 * min_slices`` valid slices must remain for training, else the zoom is too thin.
    """
    valid_z = np.flatnonzero(np.asarray(mask).any(axis=(1, 2)))
    if valid_z.size == 0:
        raise InputError(None, "the zoom reconstruction has no valid voxels")
    first, stop = int(valid_z[0]), int(valid_z[-1]) + 1
    length = stop - first
    n_test = max(min_slices, int(round(test_fraction * length)))
    n_val = max(min_slices, int(round(validation_fraction * length)))
    if length - n_test - n_val < 2 * min_slices:
        raise InputError(
            None,
            f"the zoom's valid region is {length} slices thick: too thin for training plus a "
            f"{n_val}-slice validation slab and a {n_test}-slice test slab",
        )
    test = (stop - n_test, stop)
    return HeldoutSlabs(validation=(test[0] - n_val, test[0]), test=test)


def slab_figures(
    predict: Callable[[np.ndarray], np.ndarray],
    inputs: np.ndarray,
    target: np.ndarray,
    mask: np.ndarray,
    slab: Slab,
    context: int,
) -> ValidationFigures:
    """PSNR/SSIM of ``predict`` and of its input against ``target`` on ``slab``, inside ``mask``.

    The prediction runs on the slab plus ``context`` input slices either side (what a 2.5D network
    with ``2 * context + 1`` input slices needs), so edge slices are predicted as in the full volume.
    """
    z0, z1 = slab
    lo, hi = max(0, z0 - context), min(inputs.shape[0], z1 + context)
    predicted = np.asarray(predict(np.ascontiguousarray(inputs[lo:hi])))[z0 - lo : z1 - lo]
    return model_slab_figures(predicted, inputs, target, mask, slab)
