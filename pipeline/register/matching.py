"""Resolution matching: how blurry the scout is next to the zoom, and what correlation that allows.

The Gaussian sigma (zoom voxels) that makes the zoom correlate best with the
(roughly aligned) scout measures the scout's extra blur. Two figures follow:

- the *achievable* correlation: the zoom against itself blurred by that sigma,
  with the same smoothing as the NCC figures. A perfectly registered,
  noiseless scout reaches it; the correlation floor is judged against it, so a
  coarse scout is not held to a fine scout's standard, and a zoom with no
  structure at the scout's resolution is named as such;
- the metric data: for a much blurrier scout the zoom is smoothed towards it,
  so the metric compares like with like.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from pipeline.register.resample import masked_ncc


@dataclass(frozen=True)
class Resolution:
    """The scout's blur sigma (zoom voxels), the zoom-scout NCC at that sigma, and the achievable NCC."""

    sigma_voxels: float
    matched_ncc: float
    achievable_ncc: float
    judge_smoothing_voxels: float
    structure_ncc: float
    highpass_voxels: float
    metric_sigma_voxels: float = 0.0


MATCH_EDGE_VOXELS = 64  # larger volumes are block-averaged to about this edge to estimate the blur


def _block_mean(volume: np.ndarray, factor: int) -> np.ndarray:
    shape = tuple((n // factor) * factor for n in volume.shape)
    v = volume[: shape[0], : shape[1], : shape[2]].astype(np.float32)
    return v.reshape(shape[0] // factor, factor, shape[1] // factor, factor, shape[2] // factor, factor).mean(
        axis=(1, 3, 5)
    )


def matching_sigma_voxels(
    zoom: np.ndarray, scout: np.ndarray, mask: np.ndarray, candidates: Sequence[float]
) -> tuple[float, float]:
    """``(sigma, ncc)``: the candidate Gaussian sigma for the zoom that best correlates with the scout over ``mask``.

    Volumes larger than ``MATCH_EDGE_VOXELS`` a side are block-averaged first (sigmas scaled to match), so the
    estimate costs about the same at 256^3 as at 64^3.
    """
    factor = max(1, min(zoom.shape) // MATCH_EDGE_VOXELS)
    if factor > 1:
        small = [c / factor for c in candidates]
        sigma, ncc = matching_sigma_voxels(
            _block_mean(zoom, factor), _block_mean(scout, factor), _block_mean(mask, factor) > 0.999, small
        )
        return sigma * factor, ncc
    zoom = zoom.astype(np.float32)
    best = (0.0, -2.0)
    for sigma in sorted(candidates):
        ncc = masked_ncc(smooth(zoom, sigma), scout, mask)
        if ncc > best[1]:
            best = (float(sigma), ncc)
    return best


def achievable_ncc(zoom: np.ndarray, mask: np.ndarray, sigma_voxels: float, smoothing_voxels: float) -> float:
    """NCC (after ``smoothing_voxels``) of the zoom with itself blurred by ``sigma_voxels``: the best a scout can
    reach."""
    return masked_ncc(zoom, smooth(zoom, sigma_voxels), mask, smoothing_voxels)


def estimate_resolution(
    zoom: np.ndarray,
    scout: np.ndarray,
    mask: np.ndarray,
    candidates: Sequence[float],
    smoothing_voxels: float,
    highpass_factor: float,
) -> Resolution:
    """The scout's blur and the achievable correlation, from a zoom and a scout aligned to about a voxel.

    The correlations that judge a registration band-pass both volumes: they
    smooth by the larger of ``smoothing_voxels`` and the scout's blur (finer
    detail is only the scout's noise: an FDK onto zoom voxels is noisy at that
    scale) and remove what is coarser than ``highpass_factor`` blurs (the
    smooth bias of an interior FDK, which anti-correlates at coarse scouts).
    ``structure_ncc`` is the same figure unsmoothed: how much of the zoom
    survives at the scout's resolution (low for a zoom of noise or of detail
    far below the scout's voxel, whatever the smoothing would suggest).
    """
    sigma, ncc = matching_sigma_voxels(zoom, scout, mask, candidates)
    metric_sigma = sigma  # measured at 3:1: this first, unfiltered estimate makes the better metric data
    if highpass_factor > 0:  # again without the smooth biases, which pull a coarse scout's estimate down
        first = highpass_factor * max(sigma, 1.0)
        sigma, ncc = matching_sigma_voxels(highpass(zoom, mask, first), highpass(scout, mask, first), mask, candidates)
    judge = max(smoothing_voxels, sigma)
    hp = highpass_factor * max(sigma, 1.0)
    return Resolution(
        sigma_voxels=sigma,
        matched_ncc=ncc,
        achievable_ncc=achievable_ncc(highpass(zoom, mask, hp), mask, sigma, judge),
        judge_smoothing_voxels=judge,
        structure_ncc=achievable_ncc(zoom, mask, sigma, 0.0),
        highpass_voxels=hp,
        metric_sigma_voxels=metric_sigma,
    )


def smooth(volume: np.ndarray, sigma_voxels: float) -> np.ndarray:
    """The volume smoothed by a Gaussian of ``sigma_voxels`` (unchanged for 0)."""
    if sigma_voxels <= 0:
        return volume
    return ndimage.gaussian_filter(volume.astype(np.float32), sigma_voxels)


def flatten_slices(volume: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``volume`` minus the mean of each z slice inside ``mask`` (plus the overall mean), float32.

    Why: where the sample ends just beyond the zoom box (the foam study's
    geometry: 4 zoom voxels) each scan renders the end faces its own way: the
    scout's blur dims its box towards them (by 40 % over ~1.5 x ratio slices at
    9:1), the interior zoom brightens. Left in, these z profiles rather than the
    structure steer the metric: the z scale by 2-4 % at 5:1 (simulated FDK
    pairs). A slice mean is far too coarse to hold the structure registered on,
    so a sample that fills the box in z loses nothing.
    """
    weight = mask.astype(np.float64)
    count = weight.sum(axis=(1, 2))
    if not count.any():
        return volume.astype(np.float32)
    sums = (volume.astype(np.float64) * weight).sum(axis=(1, 2))
    overall = float(sums.sum() / count.sum())
    profile = np.where(count > 0, sums / np.maximum(count, 1.0), overall)
    return (volume - (profile - overall)[:, None, None]).astype(np.float32)


def highpass(volume: np.ndarray, mask: np.ndarray, sigma_voxels: float) -> np.ndarray:
    """``volume`` minus its masked, normalised Gaussian low-pass (inside ``mask``; unchanged for 0).

    Removes the smooth bias an interior FDK keeps, which otherwise pulls the
    metric towards a scale that lines up the bias rather than the structure.
    """
    if sigma_voxels <= 0 or not mask.any():
        return volume
    weight = mask.astype(np.float32)
    low = ndimage.gaussian_filter(volume.astype(np.float32) * weight, sigma_voxels)
    norm = ndimage.gaussian_filter(weight, sigma_voxels)
    out = volume.astype(np.float32) - low / np.maximum(norm, 1e-3)
    return np.where(mask, out, 0.0).astype(np.float32)
