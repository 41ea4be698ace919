"""Pore analysis of a volume: segmentation, separation, per-pore shape figures.

Pores are dark (low attenuation). Inside the analysed region (a mask) the
volume is thresholded (Otsu on the masked values unless a threshold is given),
bright specks inside pores are filled (small-hole closing) and dark noise
specks dropped, touching pores are separated by a watershed of the distance
transform seeded by its h-maxima, and pores touching the region's boundary are
removed (their size is unknown). Porosity counts every pore voxel in the
region, boundary pores included.

Sphericity is ``pi^(1/3) (6 V)^(2/3) / A`` with V and A both taken from the
marching-cubes mesh of the pore (binary mask lightly smoothed, sigma 0.5
voxel, to limit staircase area); a voxelised sphere of radius 3-12 voxels
scores about 0.95, so compare sphericities measured the same way. Volume and
equivalent diameter come from the voxel count.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy import ndimage
from skimage.filters import threshold_otsu
from skimage.measure import marching_cubes, mesh_surface_area, regionprops
from skimage.morphology import h_maxima, remove_small_holes, remove_small_objects
from skimage.segmentation import clear_border, watershed

from pipeline.evaluate.config import PoreConfig
from pipeline.grid import VolumeGrid

SURFACE_SMOOTHING_PX = 0.5


class Pore(BaseModel):
    """One segmented pore (mm; centroid ``[x, y, z]`` in the grid's frame)."""

    model_config = ConfigDict(frozen=True)

    centroid_mm: tuple[float, float, float]
    voxels: int
    volume_mm3: float
    equivalent_diameter_mm: float
    surface_area_mm2: float
    sphericity: float


class PoreAnalysis(BaseModel):
    """The pores of one volume and the region's figures."""

    threshold: float
    voxel_mm: float
    region_voxels: int
    pore_voxels: int
    porosity: float
    count: int
    boundary_pores_removed: int
    pores: list[Pore]

    @property
    def diameters_mm(self) -> np.ndarray:
        return np.array([p.equivalent_diameter_mm for p in self.pores])

    @property
    def sphericities(self) -> np.ndarray:
        return np.array([p.sphericity for p in self.pores])

    @property
    def mean_sphericity(self) -> float:
        return float(np.mean(self.sphericities)) if self.pores else float("nan")

    def size_distribution(self, edges_mm: np.ndarray) -> list[int]:
        """Pore counts per equivalent-diameter bin (``edges_mm`` as for ``numpy.histogram``)."""
        counts, _ = np.histogram(self.diameters_mm, bins=edges_mm)
        return [int(c) for c in counts]


def segment_pores(volume: np.ndarray, mask: np.ndarray, threshold: float, config: PoreConfig) -> np.ndarray:
    """Boolean pore phase inside ``mask``: below ``threshold``, holes filled, specks removed."""
    pores = (volume < threshold) & mask
    if config.max_hole_voxels > 0:
        pores = remove_small_holes(pores, max_size=config.max_hole_voxels) & mask
    return remove_small_objects(pores, max_size=config.min_pore_voxels - 1)


def separate_pores(pores: np.ndarray, split_h_px: float, smoothing_px: float = 0.7) -> np.ndarray:
    """Labels of individual pores: watershed of the (lightly smoothed) distance transform from its h-maxima.

    Smoothing removes the ridges a noisy pore outline puts in the distance map,
    which would otherwise split one pore in two.
    """
    distance = ndimage.distance_transform_edt(pores)
    if smoothing_px > 0:
        distance = ndimage.gaussian_filter(distance, smoothing_px)
    seeds = h_maxima(distance, split_h_px) if split_h_px > 0 else ndimage.label(pores)[0] > 0
    markers, _ = ndimage.label(seeds & pores)
    return watershed(-distance, markers, mask=pores)


def _sphericity_and_area(region: np.ndarray) -> tuple[float, float]:
    """Sphericity and surface area (voxel units) of one pore's binary crop."""
    smooth = ndimage.gaussian_filter(np.pad(region.astype(np.float64), 2), SURFACE_SMOOTHING_PX)
    if smooth.max() <= 0.5:
        return float("nan"), float("nan")
    verts, faces, _, _ = marching_cubes(smooth, 0.5)
    area = float(mesh_surface_area(verts, faces))
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    mesh_volume = abs(float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum())) / 6.0
    sphericity = math.pi ** (1 / 3) * (6 * mesh_volume) ** (2 / 3) / area if area > 0 else float("nan")
    return sphericity, area


def _centroid_mm(
    centroid_zyx: tuple[float, float, float], voxel_mm: float, grid: VolumeGrid | None
) -> tuple[float, float, float]:
    index_xyz = np.array([centroid_zyx[2], centroid_zyx[1], centroid_zyx[0]])
    physical = grid.index_to_physical(index_xyz) if grid is not None else index_xyz * voxel_mm
    return (float(physical[0]), float(physical[1]), float(physical[2]))


def analyse_pores(
    volume: np.ndarray,
    mask: np.ndarray | None,
    voxel_mm: float,
    *,
    threshold: float | None = None,
    grid: VolumeGrid | None = None,
    config: PoreConfig | None = None,
) -> PoreAnalysis:
    """Segment and measure the pores of ``volume`` inside ``mask`` (isotropic voxels of ``voxel_mm``).

    Centroids are physical positions in ``grid``'s frame when a grid is given,
    else ``index * voxel_mm`` from voxel ``[0, 0, 0]``.
    """
    config = config or PoreConfig()
    mask = np.ones(volume.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if mask.shape != volume.shape:
        raise ValueError(f"mask shape must match the volume (got {mask.shape}, volume {volume.shape})")
    if not mask.any():
        raise ValueError("mask is empty")
    if grid is not None and grid.shape_zyx != volume.shape:
        raise ValueError(f"grid shape {grid.shape_zyx} does not match the volume {volume.shape}")
    values = volume[mask]
    if threshold is None:
        threshold = float(threshold_otsu(values)) if np.ptp(values) > 0 else float(values[0])
    phase = segment_pores(volume, mask, threshold, config)
    labels = separate_pores(phase, config.split_h_px, config.distance_smoothing_px)
    n_all = len(np.unique(labels[labels > 0]))
    interior = clear_border(labels, mask=ndimage.binary_erosion(mask, border_value=0))
    pores: list[Pore] = []
    for prop in regionprops(interior):
        crop = prop.image
        sphericity, area_px = _sphericity_and_area(crop)
        n = int(prop.area)
        volume_mm3 = n * voxel_mm**3
        pores.append(
            Pore(
                centroid_mm=_centroid_mm(prop.centroid, voxel_mm, grid),
                voxels=n,
                volume_mm3=volume_mm3,
                equivalent_diameter_mm=(6.0 * volume_mm3 / math.pi) ** (1 / 3),
                surface_area_mm2=area_px * voxel_mm**2,
                sphericity=sphericity,
            )
        )
    region_voxels, pore_voxels = int(mask.sum()), int(phase.sum())
    return PoreAnalysis(
        threshold=float(threshold),
        voxel_mm=voxel_mm,
        region_voxels=region_voxels,
        pore_voxels=pore_voxels,
        porosity=pore_voxels / region_voxels,
        count=len(pores),
        boundary_pores_removed=n_all - len(pores),
        pores=pores,
    )
