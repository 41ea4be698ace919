"""Resolution matching: smooth the zoom down to the scout's resolution when the scout is much blurrier.

A scout blurred by several of its own pixels is a smooth field next to the
sharp zoom: the FFT peak is weak, Mattes MI has almost no gradient and
L-BFGS-B can step the moving box out of the scout. The Gaussian sigma (zoom
voxels) that makes the zoom correlate best with the scout at the prior
measures the extra blur; above a threshold the zoom is smoothed by it for
every step (FFT, MI and the NCC figures).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from pipeline.register.resample import masked_ncc


def matching_sigma_voxels(zoom: np.ndarray, scout: np.ndarray, mask: np.ndarray, candidates: Sequence[float]) -> tuple[float, float]:
    """``(sigma, ncc)``: the candidate Gaussian sigma for the zoom that best correlates with the scout over ``mask``."""
    zoom = zoom.astype(np.float32)
    best = (0.0, -2.0)
    for sigma in sorted(candidates):
        smoothed = ndimage.gaussian_filter(zoom, sigma) if sigma > 0 else zoom
        ncc = masked_ncc(smoothed, scout, mask)
        if ncc > best[1]:
            best = (float(sigma), ncc)
    return best


def smooth(volume: np.ndarray, sigma_voxels: float) -> np.ndarray:
    """The volume smoothed by a Gaussian of ``sigma_voxels`` (unchanged for 0)."""
    if sigma_voxels <= 0:
        return volume
    return ndimage.gaussian_filter(volume.astype(np.float32), sigma_voxels)
