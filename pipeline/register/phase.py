"""Step 1: FFT (generalised) phase correlation for a fast translation estimate.

The scout box and the zoom share shape and voxel size, so a translation is an
index shift. Both volumes are weighted by a smooth window (masks softened,
Tukey taper along every axis) so that box and field-of-view edges do not
dominate, and the peak is searched only within the configured radius.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel
from scipy import fft, ndimage
from scipy.signal.windows import tukey


class PhaseResult(BaseModel):
    """Shift (zoom-box voxels, [x, y, z]) with ``zoom[i] ~ scout_box[i + shift]``; peak figures."""

    shift_voxels: tuple[float, float, float]
    peak_to_noise: float
    at_search_edge: bool


def _window(mask: np.ndarray, taper_fraction: float) -> np.ndarray:
    weight = ndimage.gaussian_filter(mask.astype(np.float32), 2.0)
    for axis, n in enumerate(mask.shape):
        shape = [1, 1, 1]
        shape[axis] = n
        weight = weight * tukey(n, taper_fraction).astype(np.float32).reshape(shape)
    return weight


def _whitened_correlation(a: np.ndarray, b: np.ndarray, weight: np.ndarray, whitening: float) -> np.ndarray:
    def prepare(v: np.ndarray) -> np.ndarray:
        mean = float(np.sum(v * weight) / max(float(np.sum(weight)), 1e-12))
        return (v - mean) * weight

    fa = fft.rfftn(prepare(a), workers=1)
    fb = fft.rfftn(prepare(b), workers=1)
    cross = fa * np.conj(fb)
    if whitening > 0:
        magnitude = np.abs(cross)
        cross = cross / np.maximum(magnitude, 1e-6 * magnitude.max()) ** whitening
    return fft.irfftn(cross, s=a.shape, workers=1)


def _parabolic_offset(left: float, centre: float, right: float) -> float:
    denom = left - 2.0 * centre + right
    if denom >= 0:
        return 0.0
    return float(np.clip(0.5 * (left - right) / denom, -0.5, 0.5))


def phase_correlate(
    zoom: np.ndarray,
    scout_box: np.ndarray,
    mask: np.ndarray,
    max_shift_voxels: tuple[float, float, float],
    whitening: float = 0.5,
    taper_fraction: float = 0.25,
) -> PhaseResult:
    """Translation of the zoom content inside the scout box, within ``max_shift_voxels`` ([x, y, z]).

    ``mask`` is where both volumes are valid ([z, y, x]).
    """
    weight = _window(mask, taper_fraction)
    corr = _whitened_correlation(zoom.astype(np.float32), scout_box.astype(np.float32), weight, whitening)
    # corr[d] = sum_i zoom[i + d] * scout[i]: zoom[i] = scout[i + s] peaks at d = -s.
    lag = [np.fft.fftfreq(n, 1.0 / n) for n in corr.shape]
    limit_zyx = np.asarray(max_shift_voxels[::-1], dtype=float)
    allowed = np.ones(corr.shape, dtype=bool)
    for axis, (lags, limit) in enumerate(zip(lag, limit_zyx)):
        shape = [1, 1, 1]
        shape[axis] = len(lags)
        allowed = allowed & (np.abs(lags) <= limit).reshape(shape)
    searched = np.where(allowed, corr, -np.inf)
    peak = np.unravel_index(int(np.argmax(searched)), corr.shape)
    shift_zyx = []
    at_edge = False
    for axis, p in enumerate(peak):
        n = corr.shape[axis]
        neighbours = [tuple((p + d) % n if a == axis else q for a, q in enumerate(peak)) for d in (-1, 1)]
        offset = _parabolic_offset(float(corr[neighbours[0]]), float(corr[peak]), float(corr[neighbours[1]]))
        shift_zyx.append(-(lag[axis][p] + offset))
        at_edge = at_edge or abs(lag[axis][p]) >= limit_zyx[axis] - 1
    noise = float(np.std(corr[allowed])) or 1e-12
    return PhaseResult(
        shift_voxels=(float(shift_zyx[2]), float(shift_zyx[1]), float(shift_zyx[0])),
        peak_to_noise=float((corr[peak] - np.mean(corr[allowed])) / noise),
        at_search_edge=bool(at_edge),
    )
