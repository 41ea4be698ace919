"""FDK projection weighting and ramp filtering, numerically the same as RTK 2.7's CPU FDK.

Written from RTK's documented algorithm and checked against its output (tests
in ``tests/pipeline/reconstruct/test_fdk_numba.py``), in RTK's detector frame
(:mod:`pipeline.reconstruct.rtk_geometry`): u along the detector columns, v up,
both in mm from the principal point; RTK gantry angle ``g = -θ``.

- Parker short-scan weights (Parker 1982, with RTK's denominator fix), applied
  only when the largest angular gap exceeds 20 degrees, as RTK does;
- per projection: half the angular gap to its neighbours times
  ``SDD / (2 SOD)``, and the cosine weight ``SDD / sqrt(SDD² + u² + v²)``;
- the ramp (Ram-Lak) kernel built in the spatial domain on a zero-padded row
  (twice the width, rounded up to a power of two), optional Hann window, and
  the truncation correction: the row extended on both sides by
  ``floor(c * width)`` columns mirrored about its edge and faded out.

Everything here depends on the scan only, never on the grid: filtered
projections can be reused for any number of grids.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft

from pipeline.acquisition.contract import Geometry

PARKER_GAP_THRESHOLD_RAD = math.pi / 9  # RTK's default: a larger gap means a short scan
_CHUNK_BYTES = 64 * 1024**2  # working memory of one batch of padded rows


def padded_width(columns: int) -> int:
    """FFT length of one row: twice the width, rounded up to a power of two (RTK without FFTW)."""
    return 1 << max(1, math.ceil(math.log2(2 * columns)))


def ramp_kernel_fft(size: int, pitch_mm: float, hann_cut_frequency: float = 0.0) -> np.ndarray:
    """Half spectrum (``size // 2 + 1``, complex128) of the discrete ramp kernel for a ``pitch_mm`` row."""
    kernel = np.zeros(size)
    kernel[0] = 1.0 / (4.0 * pitch_mm)
    odd = np.arange(1, size // 2, 2)
    values = -1.0 / ((odd * math.pi) ** 2 * pitch_mm)
    kernel[odd] = values
    kernel[size - odd] = values
    spectrum = np.fft.rfft(kernel)
    if hann_cut_frequency > 0.0:
        n = spectrum.size
        ncut = int(round(n * min(1.0, hann_cut_frequency)))
        window = np.zeros(n)
        i = np.arange(ncut)
        window[:ncut] = 0.5 * (1.0 + np.cos(math.pi * i / max(ncut, 1)))
        spectrum = spectrum * window
    return spectrum


def truncation_extent(columns: int, correction: float) -> int:
    """Columns added on each side by the truncation correction (bounded by the zero padding)."""
    zero_ext = (padded_width(columns) - columns) // 2
    return min(zero_ext, int(math.floor(correction * columns)))


def mirror_weights(extent: int) -> np.ndarray:
    """Fade-out weights ``[extent + 1]`` of the mirrored extension (1 next to the edge, 0 at its end)."""
    if extent < 2:
        return np.ones(extent + 1)
    i = np.arange(extent + 1)
    return np.sin((extent - i) * math.pi / (2 * extent - 2)) ** 0.75


def angular_weights(geometry: Geometry) -> np.ndarray:
    """Half the angular gap (rad) to each projection's two neighbours, the first and last wrapping round."""
    angles = np.mod(np.radians(geometry.angles()), 2 * math.pi)
    n = angles.size
    if n == 1:
        return np.array([2 * math.pi])
    order = np.argsort(angles, kind="stable")
    s = angles[order]
    nxt = np.roll(s, -1)
    nxt[-1] += 2 * math.pi
    prev = np.roll(s, 1)
    prev[0] -= 2 * math.pi
    gaps = np.empty(n)
    gaps[order] = 0.5 * (nxt - prev)
    return gaps


def detector_u_mm(geometry: Geometry) -> np.ndarray:
    """u (mm from the principal point, along +columns) of each column."""
    return (np.arange(geometry.columns) - geometry.principal_point_px()[1]) * geometry.detector_pixel_mm[1]


def detector_v_mm(geometry: Geometry, row0: int, row1: int) -> np.ndarray:
    """v (mm above the principal point) of rows ``[row0, row1)``."""
    return (geometry.principal_point_px()[0] - np.arange(row0, row1)) * geometry.detector_pixel_mm[0]


def parker_weights(geometry: Geometry) -> np.ndarray | None:
    """Parker weights ``[angle, column]`` for a short scan, or None when the largest gap is under 20 degrees."""
    g = np.mod(-np.radians(geometry.angles()), 2 * math.pi)  # RTK gantry angles
    n = g.size
    if n < 2:
        return None
    order = np.argsort(g, kind="stable")
    s = g[order]
    with_next = np.empty(n)
    with_next[order] = np.append(np.diff(s), s[0] + 2 * math.pi - s[-1])
    widest = int(np.argmax(with_next))
    if with_next[widest] < PARKER_GAP_THRESHOLD_RAD:
        return None
    unique = np.unique(g)
    last_pos = int(np.searchsorted(unique, g[widest]))
    first = float(unique[(last_pos + 1) % unique.size])
    last = float(unique[last_pos])
    if last < first:
        last += 2 * math.pi
    delta = 0.5 * (last - first - math.pi)
    delta -= 2 * math.pi * math.floor(delta / (2 * math.pi))
    sdd = geometry.source_to_detector_mm
    alpha = np.arctan(-detector_u_mm(geometry) / sdd)[None, :]  # fan angle of each column
    beta = (g - first)[:, None]
    beta = np.where(beta < 0, beta + 2 * math.pi, beta)
    pi = math.pi
    with np.errstate(divide="ignore", invalid="ignore"):
        rise = 2.0 * np.sin(pi * beta / (4 * (delta - alpha))) ** 2
        fall = 2.0 * np.sin(pi * (pi + 2 * delta - beta) / (4 * (delta + alpha))) ** 2
    tail = np.where(beta <= pi + 2 * delta, fall, 0.0)
    return np.where(beta <= 2 * delta - 2 * alpha, rise, np.where(beta <= pi - 2 * alpha, 2.0, tail))


def projection_weights(geometry: Geometry, row0: int, row1: int) -> tuple[np.ndarray, np.ndarray]:
    """(per-angle factor ``[angle]``, cosine weight ``[row, column]``) of FDK's pre-weighting."""
    sod, sdd = geometry.source_to_axis_mm, geometry.source_to_detector_mm
    factor = angular_weights(geometry) * sdd / (2.0 * sod)
    u = detector_u_mm(geometry)[None, :]
    v = detector_v_mm(geometry, row0, row1)[:, None]
    cosine = sdd / np.sqrt(sdd * sdd + v * v + u * u)
    return factor, cosine


def ramp_rows(rows: np.ndarray, spectrum: np.ndarray, size: int, extent: int, out: np.ndarray) -> None:
    """Ramp-filter rows ``[..., width]`` into ``out`` (float32, same shape), with mirrored extension, in the rows'
    precision (float32 rows: single-precision FFTs, half the time of float64 for 3e-7 of the range)."""
    width = rows.shape[-1]
    padded = np.zeros((*rows.shape[:-1], size), rows.dtype)
    padded[..., :width] = rows
    if extent:
        weights = mirror_weights(extent)
        b = np.arange(1, extent + 1)
        left = weights[b] * (2.0 * rows[..., 1:2] - rows[..., b])  # RTK mirrors the left edge about column 1
        right = weights[b] * (2.0 * rows[..., width - 1 : width] - rows[..., width - 1 - b])
        padded[..., size - b] = left
        padded[..., width - 1 + b] = right
    filtered = scipy.fft.irfft(scipy.fft.rfft(padded, axis=-1, workers=-1) * spectrum, n=size, axis=-1, workers=-1)
    out[...] = filtered[..., :width]


def filter_projections(
    geometry: Geometry,
    line_integrals: np.ndarray,
    row0: int = 0,
    row1: int | None = None,
    *,
    truncation_correction: float = 0.0,
    hann_cut_frequency: float = 0.0,
    parker: bool = False,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Weighted, ramp-filtered rows ``[row0, row1)`` of ``line_integrals`` (``[angle, row, column]``), float32.

    ``out`` (float32 ``[angle, row1 - row0, column]``, e.g. a memory map) is filled
    and returned; otherwise a new array is.
    """
    row1 = geometry.rows if row1 is None else row1
    n_angles, columns = geometry.n_angles, geometry.columns
    shape = (n_angles, row1 - row0, columns)
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    elif out.shape != shape or out.dtype != np.float32:
        raise ValueError(f"out is {out.dtype}{out.shape}, need float32{shape}")
    if row1 <= row0:
        return out
    factor, cosine = projection_weights(geometry, row0, row1)
    parker_w = parker_weights(geometry) if parker else None
    size = padded_width(columns)
    # float32 throughout, as RTK's float images are; the weights are computed in float64 first
    spectrum = ramp_kernel_fft(size, geometry.detector_pixel_mm[1], hann_cut_frequency).astype(np.complex64)
    cosine = cosine.astype(np.float32)
    factor = factor.astype(np.float32)
    parker_w = parker_w.astype(np.float32) if parker_w is not None else None
    extent = truncation_extent(columns, truncation_correction)
    batch = max(1, _CHUNK_BYTES // (4 * size * (row1 - row0)))
    for a0 in range(0, n_angles, batch):
        a1 = min(n_angles, a0 + batch)
        rows = np.asarray(line_integrals[a0:a1, row0:row1], dtype=np.float32) * cosine
        weight = factor[a0:a1, None, None]
        if parker_w is not None:
            weight = weight * parker_w[a0:a1, None, :]
        ramp_rows(rows * weight, spectrum, size, extent, out[a0:a1])
    return out
