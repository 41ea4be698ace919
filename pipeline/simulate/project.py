"""Exact cone-beam line integrals of the analytic phantom (contract v1 frame).

For every detector (sub-)ray the integral is ``mu * (cylinder chord clipped by
its end planes - sum of pore chords)``; pores lie inside the cylinder and do
not overlap, so this is exact. Pores are culled per projection: each one only
visits the pixels inside the bounding box of its projected shadow.

Frames (DESIGN.md): a sample point ``p`` (sample frame) sits in the scan frame
at ``Rz(theta) @ Q @ (p - c)``, where ``c`` is the sample point at the volume
centre and ``Q`` the mounting rotation (identity unless the sample was
remounted). At theta = 0 the source is at ``(0, -SOD, 0)`` and the detector
plane at ``y = SDD - SOD``; columns run along +x, rows along -z.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from pipeline.acquisition.contract import ScanMetadata
from pipeline.simulate.phantom import Phantom


def rotation_z(theta_deg: float) -> np.ndarray:
    """Right-handed rotation by ``theta_deg`` about +z."""
    t = np.radians(theta_deg)
    c, s = np.cos(t), np.sin(t)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def scan_to_sample_matrices(angles_deg: np.ndarray, mount_rotation: np.ndarray) -> np.ndarray:
    """``[n, 3, 3]``: scan-frame vectors at each angle -> sample-frame vectors (``Q^T Rz(-theta)``)."""
    return np.stack([mount_rotation.T @ rotation_z(-a) for a in angles_deg])


@numba.njit(cache=True, inline="always")
def _cylinder_chord(
    sx: float, sy: float, sz: float, dx: float, dy: float, dz: float, radius: float, half_h: float
) -> float:
    """Length of the unit-direction ray ``s + t d`` inside the cylinder ``x^2 + y^2 <= r^2, |z| <= h/2``."""
    a = dx * dx + dy * dy
    lo, hi = -1e30, 1e30
    if a > 1e-30:
        b = sx * dx + sy * dy
        c = sx * sx + sy * sy - radius * radius
        disc = b * b - a * c
        if disc <= 0.0:
            return 0.0
        root = np.sqrt(disc)
        lo, hi = (-b - root) / a, (-b + root) / a
    elif sx * sx + sy * sy > radius * radius:
        return 0.0
    if abs(dz) > 1e-30:
        t1, t2 = (-half_h - sz) / dz, (half_h - sz) / dz
        if t1 > t2:
            t1, t2 = t2, t1
        lo, hi = max(lo, t1), min(hi, t2)
    elif abs(sz) > half_h:
        return 0.0
    return max(0.0, hi - lo)


@numba.njit(cache=True, parallel=True)
def _project_kernel(
    mats: np.ndarray,
    centre: np.ndarray,
    sod: float,
    sdd: float,
    rows: int,
    cols: int,
    row_start: int,
    col_start: int,
    pp_r: float,
    pp_c: float,
    pitch_r: float,
    pitch_c: float,
    ss: int,
    cyl_centre: np.ndarray,
    cyl_radius: float,
    cyl_half_h: float,
    mu: float,
    pore_centres: np.ndarray,
    pore_radii: np.ndarray,
) -> np.ndarray:  # pragma: no cover - compiled
    """Mean transmission ``[angle, row, col]`` over ``ss x ss`` sub-rays of each pixel."""
    n_angles = mats.shape[0]
    out = np.empty((n_angles, rows, cols), dtype=np.float64)
    sub_r, sub_c = rows * ss, cols * ss
    for a in numba.prange(n_angles):
        m = mats[a]
        # source in the sample frame, relative to the cylinder centre
        src = np.empty(3)
        for k in range(3):
            src[k] = m[k, 1] * (-sod) + centre[k] - cyl_centre[k]
        dirs = np.empty((sub_r, sub_c, 3))
        paths = np.empty((sub_r, sub_c))
        for i in range(sub_r):
            off_v = (row_start + (i + 0.5) / ss - 0.5 - pp_r) * pitch_r
            for j in range(sub_c):
                off_u = (col_start + (j + 0.5) / ss - 0.5 - pp_c) * pitch_c
                norm = np.sqrt(off_u * off_u + sdd * sdd + off_v * off_v)
                du, dy, dv = off_u / norm, sdd / norm, -off_v / norm
                for k in range(3):
                    dirs[i, j, k] = m[k, 0] * du + m[k, 1] * dy + m[k, 2] * dv
                paths[i, j] = mu * _cylinder_chord(
                    src[0], src[1], src[2], dirs[i, j, 0], dirs[i, j, 1], dirs[i, j, 2], cyl_radius, cyl_half_h
                )
        for p in range(pore_radii.shape[0]):
            rad = pore_radii[p]
            wx = pore_centres[p, 0] - cyl_centre[0] - src[0]
            wy = pore_centres[p, 1] - cyl_centre[1] - src[1]
            wz = pore_centres[p, 2] - cyl_centre[2] - src[2]
            # pore centre in scan coordinates relative to the source: depth along the central ray, u, v
            x = m[0, 0] * wx + m[1, 0] * wy + m[2, 0] * wz
            depth = m[0, 1] * wx + m[1, 1] * wy + m[2, 1] * wz
            z = m[0, 2] * wx + m[1, 2] * wy + m[2, 2] * wz
            if depth - rad <= 1e-9:
                continue  # behind or around the source (validated against elsewhere)
            # the sphere lies in a box; its shadow lies in the box's shadow (corners at near/far depth)
            u_lo, u_hi, v_lo, v_hi = 1e30, -1e30, 1e30, -1e30
            for dd in (depth - rad, depth + rad):
                for xx in (x - rad, x + rad):
                    u = xx * sdd / dd
                    u_lo, u_hi = min(u_lo, u), max(u_hi, u)
                for zz in (z - rad, z + rad):
                    v = -zz * sdd / dd
                    v_lo, v_hi = min(v_lo, v), max(v_hi, v)
            # sub-ray index of pixel coordinate q is (q - start + 0.5) * ss - 0.5
            j0 = max(0, int(np.floor((u_lo / pitch_c + pp_c - col_start + 0.5) * ss - 0.5)) - 1)
            j1 = min(sub_c, int(np.ceil((u_hi / pitch_c + pp_c - col_start + 0.5) * ss - 0.5)) + 2)
            i0 = max(0, int(np.floor((v_lo / pitch_r + pp_r - row_start + 0.5) * ss - 0.5)) - 1)
            i1 = min(sub_r, int(np.ceil((v_hi / pitch_r + pp_r - row_start + 0.5) * ss - 0.5)) + 2)
            w2 = wx * wx + wy * wy + wz * wz
            r2 = rad * rad
            for i in range(i0, i1):
                for j in range(j0, j1):
                    t = wx * dirs[i, j, 0] + wy * dirs[i, j, 1] + wz * dirs[i, j, 2]
                    dist2 = w2 - t * t
                    if dist2 < r2:
                        paths[i, j] -= 2.0 * mu * np.sqrt(r2 - dist2)
        inv = 1.0 / (ss * ss)
        for i in range(rows):
            for j in range(cols):
                acc = 0.0
                for si in range(ss):
                    for sj in range(ss):
                        acc += np.exp(-max(paths[i * ss + si, j * ss + sj], 0.0))
                out[a, i, j] = acc * inv
    return out


def project_transmission(
    phantom: Phantom,
    meta: ScanMetadata,
    *,
    angles_deg: np.ndarray | None = None,
    mount_rotation: np.ndarray | None = None,
    supersample: int = 1,
    pad_px: int = 0,
) -> np.ndarray:
    """Mean transmission ``[angle, rows + 2 pad, cols + 2 pad]`` (float64) of the phantom seen by ``meta``.

    ``meta.sample_position_mm`` is taken as the *true* sample point at the
    volume centre and ``meta.geometry`` as the true geometry. ``pad_px`` widens
    the detector on every side (room for blurring a truncated projection).
    """
    geometry = meta.geometry
    angles = geometry.angles() if angles_deg is None else np.asarray(angles_deg, dtype=float)
    rotation = np.eye(3) if mount_rotation is None else np.asarray(mount_rotation, dtype=float)
    centre = np.asarray(meta.sample_position_mm, dtype=float)
    centres, radii = phantom.pore_arrays()
    _check_source_outside(phantom, centre, geometry.source_to_axis_mm)
    pp_r, pp_c = geometry.principal_point_px()
    cyl = phantom.cylinder
    return _project_kernel(
        scan_to_sample_matrices(angles, rotation),
        centre,
        float(geometry.source_to_axis_mm),
        float(geometry.source_to_detector_mm),
        geometry.rows + 2 * pad_px,
        geometry.columns + 2 * pad_px,
        -pad_px,
        -pad_px,
        float(pp_r),
        float(pp_c),
        float(geometry.detector_pixel_mm[0]),
        float(geometry.detector_pixel_mm[1]),
        int(supersample),
        np.asarray(cyl.centre_mm, dtype=float),
        float(cyl.radius_mm),
        float(cyl.height_mm) / 2.0,
        float(phantom.mu_per_mm),
        np.ascontiguousarray(centres),
        np.ascontiguousarray(radii),
    )


def project_phantom(
    phantom: Phantom,
    meta: ScanMetadata,
    angles_subset: Sequence[int] | None = None,
    supersample: int = 1,
    *,
    mount_rotation: np.ndarray | None = None,
) -> np.ndarray:
    """Noise-free, blur-free line integrals ``[angle, row, col]`` (float32) of the phantom.

    ``angles_subset`` picks projection indices of ``meta``'s angles (all by
    default). With ``supersample > 1`` each pixel averages the *transmission*
    of ``supersample^2`` sub-rays, as a real pixel integrates intensity.
    """
    angles = meta.geometry.angles()
    if angles_subset is not None:
        angles = angles[np.asarray(angles_subset, dtype=int)]
    transmission = project_transmission(
        phantom, meta, angles_deg=angles, mount_rotation=mount_rotation, supersample=supersample
    )
    return (-np.log(transmission)).astype(np.float32)


def _check_source_outside(phantom: Phantom, centre: np.ndarray, source_to_axis_mm: float) -> None:
    """The source circle must stay clear of the sample (else rays start inside it)."""
    cyl = phantom.cylinder
    lateral = float(np.hypot(*(np.asarray(cyl.centre_mm[:2]) - centre[:2])))
    reach = lateral + cyl.radius_mm
    if reach >= source_to_axis_mm:
        raise ValueError(
            f"the sample reaches {reach:.3f} mm from the rotation axis but the source is at {source_to_axis_mm:.3f} mm"
        )
