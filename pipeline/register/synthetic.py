"""Synthetic scout/zoom pairs with a known zoom->scout map, for registration tests and benchmarks.

The sample is an analytic foam (random spherical pores, soft edges) defined in
the scout frame, so it can be rendered exactly onto any grid, including the
rotated and scaled zoom grid as seen from the scout. The zoom is that render
plus a little noise; the scout is rendered on the prior box (or any grid the
caller asks for, standing in for an FDK of the scout) blurred by about the
resolution ratio plus more noise. This is not the physics simulator
(``pipeline.simulate``); it only needs to look like a foam to the metric.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial.transform import Rotation

from pipeline.grid import VolumeGrid


@dataclass(frozen=True)
class Foam:
    """Spherical pores (centres [n, 3] and radii [n], mm, scout frame) in a solid of value 1."""

    centres_mm: np.ndarray
    radii_mm: np.ndarray
    edge_mm: float

    def render(self, grid: VolumeGrid) -> np.ndarray:
        """Foam values at every voxel centre of ``grid`` (any direction and spacing), float32 [z, y, x]."""
        pore = np.zeros(grid.shape_zyx, dtype=np.float32)
        reach = self.radii_mm + 4.0 * self.edge_mm
        index = grid.physical_to_index(self.centres_mm)
        half_index = reach[:, None] / np.asarray(grid.spacing_mm)[None, :]
        shape_xyz = np.asarray(grid.shape_xyz)
        lo = np.clip(np.floor(index - half_index).astype(int), 0, shape_xyz)
        hi = np.clip(np.ceil(index + half_index).astype(int) + 1, 0, shape_xyz)
        for c, r, a, b in zip(self.centres_mm, self.radii_mm, lo, hi):
            if np.any(b <= a):
                continue
            k, j, i = np.meshgrid(np.arange(a[2], b[2]), np.arange(a[1], b[1]), np.arange(a[0], b[0]), indexing="ij")
            points = grid.index_to_physical(np.stack([i, j, k], axis=-1))
            dist = np.linalg.norm(points - c, axis=-1)
            inside = 0.5 * (1.0 - np.tanh((dist - r) / self.edge_mm))
            view = pore[a[2] : b[2], a[1] : b[1], a[0] : b[0]]
            np.maximum(view, inside.astype(np.float32), out=view)
        return 1.0 - pore


def random_foam(
    rng: np.random.Generator, centre_mm: np.ndarray, size_mm: float, voxel_mm: float, porosity: float = 0.35
) -> Foam:
    """Pores of 2-7 voxels radius filling a cube of ``size_mm`` about ``centre_mm`` to roughly ``porosity``."""
    mean_volume = 4.0 / 3.0 * np.pi * (4.5 * voxel_mm) ** 3
    count = int(porosity * size_mm**3 / mean_volume)
    centres = np.asarray(centre_mm) + rng.uniform(-size_mm / 2, size_mm / 2, size=(count, 3))
    radii = rng.uniform(2.0, 7.0, size=count) * voxel_mm
    return Foam(centres_mm=centres, radii_mm=radii, edge_mm=0.6 * voxel_mm)


@dataclass(frozen=True)
class SyntheticPair:
    """Everything ``register_scout_to_zoom`` takes, plus the truth."""

    zoom: np.ndarray
    zoom_mask: np.ndarray
    zoom_grid: VolumeGrid
    scout: np.ndarray
    scout_mask: np.ndarray
    scout_box_grid: VolumeGrid
    true_zoom_grid_in_scout: VolumeGrid
    true_matrix: np.ndarray  # [3, 4]: p_scout = M[:, :3] @ p_zoom + M[:, 3]
    reconstruct_scout: Callable[[VolumeGrid], tuple[np.ndarray, np.ndarray]]


def cylinder_mask(shape_zyx: tuple[int, int, int]) -> np.ndarray:
    """The reconstructable field of view of a scan: the cylinder inscribed in the box, about z."""
    nz, ny, nx = shape_zyx
    y = (np.arange(ny) - (ny - 1) / 2) / (ny / 2)
    x = (np.arange(nx) - (nx - 1) / 2) / (nx / 2)
    disc = y[:, None] ** 2 + x[None, :] ** 2 <= 1.0
    return np.broadcast_to(disc, (nz, ny, nx)).copy()


def make_pair(
    size: int = 64,
    voxel_mm: float = 0.01,
    ratio: float = 3.0,
    noise: float = 0.03,
    stage_error_mm: tuple[float, float, float] = (0.0, 0.0, 0.0),
    rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0),
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0),
    prior_mm: tuple[float, float, float] = (0.5, -0.3, 0.2),
    seed: int = 0,
    zoom_seed: int | None = None,
) -> SyntheticPair:
    """A pair whose true zoom->scout map is ``R @ diag(scale)`` (rotation vector ``rotation_deg``, xyz)
    and whose zoom centre sits at ``prior_mm + stage_error_mm`` in the scout frame.

    ``ratio`` sets the scout blur (Gaussian sigma ``ratio / 2`` zoom voxels) and
    ``noise`` the scout noise (the zoom gets a third of it); ``zoom_seed``
    renders the zoom from a different foam (a deliberately wrong pair).
    """
    rng = np.random.default_rng(seed)
    shape = (size, size, size)
    zoom_grid = VolumeGrid.isotropic(shape, voxel_mm)
    prior = np.asarray(prior_mm, dtype=float)
    centre = prior + np.asarray(stage_error_mm, dtype=float)
    rotation = Rotation.from_rotvec(np.deg2rad(rotation_deg)).as_matrix()
    true_grid = VolumeGrid(
        shape_zyx=shape,
        spacing_mm=tuple(voxel_mm * s for s in scale),
        centre_mm=tuple(centre),
        direction=tuple(rotation.ravel()),
    )
    matrix = np.hstack([rotation @ np.diag(scale), centre[:, None]])
    foam = random_foam(rng, prior, 1.6 * size * voxel_mm, voxel_mm)
    zoom_foam = (
        foam
        if zoom_seed is None
        else random_foam(np.random.default_rng(zoom_seed), centre, 1.6 * size * voxel_mm, voxel_mm)
    )
    zoom = zoom_foam.render(true_grid) + rng.normal(0.0, noise / 3.0, shape).astype(np.float32)
    sigma_vox = ratio / 2.0
    noise_rng = np.random.default_rng(seed + 1)

    def reconstruct_scout(grid: VolumeGrid) -> tuple[np.ndarray, np.ndarray]:
        pad = int(np.ceil(3 * sigma_vox))
        nz, ny, nx = grid.shape_zyx
        padded = grid.model_copy(update={"shape_zyx": (nz + 2 * pad, ny + 2 * pad, nx + 2 * pad)})
        volume = ndimage.gaussian_filter(foam.render(padded), sigma_vox)[pad:-pad, pad:-pad, pad:-pad]
        volume = volume + noise_rng.normal(0.0, noise, volume.shape).astype(np.float32)
        return volume.astype(np.float32), np.ones(volume.shape, dtype=bool)

    scout_box_grid = zoom_grid.with_centre(tuple(prior))
    scout, scout_mask = reconstruct_scout(scout_box_grid)
    return SyntheticPair(
        zoom=zoom.astype(np.float32),
        zoom_mask=cylinder_mask(shape),
        zoom_grid=zoom_grid,
        scout=scout,
        scout_mask=scout_mask,
        scout_box_grid=scout_box_grid,
        true_zoom_grid_in_scout=true_grid,
        true_matrix=matrix,
        reconstruct_scout=reconstruct_scout,
    )
