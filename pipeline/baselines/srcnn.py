"""Apply a trained 3D SRCNN (``models.srcnn``) to a volume in z-slabs with a reflected halo."""

from __future__ import annotations

import numpy as np

from models.srcnn import TrainedSRCNN


def apply_srcnn(trained: TrainedSRCNN, volume: np.ndarray, *, slab_z: int = 16) -> np.ndarray:
    """The SRCNN output for ``volume`` ([z, y, x], same grid as training input); float32."""
    halo = trained.halo_vox
    norm = trained.normalisation
    padded = np.pad(norm.apply(volume), halo, mode="reflect" if min(volume.shape) > halo else "symmetric")
    nz = volume.shape[0]
    out = np.empty(volume.shape, np.float32)
    for z0 in range(0, nz, slab_z):
        z1 = min(nz, z0 + slab_z)
        block = padded[z0 : z1 + 2 * halo][None, ..., None]
        pred = np.asarray(trained.model.predict_on_batch(block))[0, ..., 0]
        out[z0:z1] = pred[halo : halo + z1 - z0, halo : -halo or None, halo : -halo or None]
    return norm.invert(out)
