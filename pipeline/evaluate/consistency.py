"""Hallucination indicators for the region outside the zoom.

Scout consistency (computed for every pair): whatever the network adds must be
invisible at scout resolution. The scout's point-spread function relative to
the zoom is estimated on the held-out zoom data (Gaussian sigma, gain and
offset: :func:`pipeline.evaluate.resolution.fit_gaussian_blur`); the recovered
volume is then blurred back with it and compared with the scout itself. A
hallucinated pore or a lost feature changes the low-pass content, so the
residual grows. Scout noise is suppressed by low-passing the residual with the
same PSF (a matched filter for scout-visible features). The residual is
expressed relative to the *noise floor*: the same figure for the zoom itself
blurred to the scout (the best any volume can do). Inside the zoom a good
model scores about 1; the check flags when outside the zoom it scores much
worse than inside, i.e. the model behaves differently where it cannot be
verified. Detail finer than the scout's resolution cannot be checked this way
(by construction nothing can check it against the scout).

Model disagreement (optional, costs a second training): two models trained on
different halves of the zoom should agree outside the zoom; see
:func:`halves_disagreement`.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict

from pipeline.evaluate.resolution import GaussianFit, blur


class ScoutConsistency(BaseModel):
    """Residual of ``scout - PSF(recovered)``, low-passed, relative to the zoom's own residual."""

    model_config = ConfigDict(frozen=True)

    psf_sigma_px: float
    noise_floor_rms: float
    inside_rms: float
    outside_rms: float | None = None

    @property
    def inside_ratio(self) -> float:
        return self.inside_rms / self.noise_floor_rms if self.noise_floor_rms > 0 else float("inf")

    @property
    def outside_ratio(self) -> float | None:
        if self.outside_rms is None:
            return None
        return self.outside_rms / self.noise_floor_rms if self.noise_floor_rms > 0 else float("inf")

    @property
    def outside_over_inside(self) -> float | None:
        if self.outside_rms is None:
            return None
        return self.outside_rms / self.inside_rms if self.inside_rms > 0 else float("inf")


def consistency_residual(volume: np.ndarray, scout: np.ndarray, psf: GaussianFit) -> np.ndarray:
    """``scout - PSF(volume)``, low-passed with the PSF (voxel map, scout units)."""
    if volume.shape != scout.shape:
        raise ValueError(f"volume and scout shapes differ (got {volume.shape} and {scout.shape})")
    residual = scout.astype(np.float64) - psf.apply(volume)
    return blur(residual, psf.sigma_px)


def _rms(values: np.ndarray, mask: np.ndarray | None) -> float:
    chosen = values[mask] if mask is not None else values
    if chosen.size == 0:
        raise ValueError("mask is empty")
    return float(np.sqrt(np.mean(chosen**2)))


def _rms_slabwise(
    volume: np.ndarray, scout: np.ndarray, psf: GaussianFit, mask: np.ndarray | None, slab_z: int = 32
) -> float:
    """RMS of :func:`consistency_residual` inside ``mask``, computed in z slabs (large output volumes)."""
    margin = int(np.ceil(8 * psf.sigma_px)) + 1
    total, count = 0.0, 0
    nz = volume.shape[0]
    for z0 in range(0, nz, slab_z):
        z1 = min(nz, z0 + slab_z)
        lo, hi = max(0, z0 - margin), min(nz, z1 + margin)
        residual = consistency_residual(np.asarray(volume[lo:hi]), np.asarray(scout[lo:hi]), psf)[z0 - lo : z1 - lo]
        chosen = residual[mask[z0:z1]] if mask is not None else residual.ravel()
        total += float(np.sum(chosen**2))
        count += chosen.size
    if count == 0:
        raise ValueError("mask is empty")
    return float(np.sqrt(total / count))


def outside_zoom_mask(
    output_mask: np.ndarray, zoom_offset_xyz: tuple[int, int, int], zoom_shape_zyx: tuple[int, int, int]
) -> np.ndarray:
    """``output_mask`` with the zoom's box (at ``zoom_offset_xyz`` in the output grid) removed."""
    outside = np.array(output_mask, dtype=bool, copy=True)
    x0, y0, z0 = (max(0, int(v)) for v in zoom_offset_xyz)
    x1, y1, z1 = (int(o) + n for o, n in zip(zoom_offset_xyz, zoom_shape_zyx[::-1]))
    outside[z0 : max(z0, z1), y0 : max(y0, y1), x0 : max(x0, x1)] = False
    return outside


def scout_consistency(
    psf: GaussianFit,
    recovered_in: np.ndarray,
    scout_in: np.ndarray,
    zoom_in: np.ndarray,
    mask_in: np.ndarray | None,
    *,
    outside_pair: tuple[np.ndarray, np.ndarray] | None = None,
    outside_mask: np.ndarray | None = None,
) -> ScoutConsistency:
    """Scout-consistency residuals inside (held-out zoom) and, if given, outside the zoom.

    ``outside_pair`` is ``(recovered, scout)`` on a zoom-spacing grid outside the zoom region.
    """
    floor = _rms(consistency_residual(zoom_in, scout_in, psf), mask_in)
    inside = _rms(consistency_residual(recovered_in, scout_in, psf), mask_in)
    outside = None
    if outside_pair is not None:
        recovered_out, scout_out = outside_pair
        if recovered_out.shape != scout_out.shape:
            raise ValueError(f"outside_pair shapes differ (got {recovered_out.shape} and {scout_out.shape})")
        outside = _rms_slabwise(recovered_out, scout_out, psf, outside_mask)
    return ScoutConsistency(psf_sigma_px=psf.sigma_px, noise_floor_rms=floor, inside_rms=inside, outside_rms=outside)


def halves_disagreement(first: np.ndarray, second: np.ndarray, mask: np.ndarray | None = None) -> float:
    """RMS difference of two models' outputs relative to their mean's standard deviation (0 = identical)."""
    if first.shape != second.shape:
        raise ValueError(f"the two outputs' shapes differ (got {first.shape} and {second.shape})")
    diff = _rms(first.astype(np.float64) - second, mask)
    mean = (first.astype(np.float64) + second) / 2.0
    spread = float(np.std(mean[mask] if mask is not None else mean))
    return diff / spread if spread > 0 else float("inf")
