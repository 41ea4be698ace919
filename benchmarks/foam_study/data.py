"""Simulated foam pairs for the study, in the image domain.

For each ratio R a foam phantom (``pipeline.simulate``) is voxelised three
times: on the scout grid (voxel R times the zoom voxel, detector-like blur,
more noise), on the training zoom region (zoom voxel, slight blur, less
noise) and, without noise or blur, on an evaluation region of the same size
elsewhere in the sample (the truth; never seen in training). The zoom voxel is
the same for every ratio, so the pores are the same size in zoom voxels and
only the scout gets coarser. Projections and FDK are skipped here to keep the
CPU size under an hour; the end-to-end path is tested by the pipeline's own
tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy import ndimage

from pipeline.grid import VolumeGrid
from pipeline.simulate.config import PhantomSettings
from pipeline.simulate.phantom import Phantom, generate_phantom
from pipeline.simulate.voxelise import voxelise


class StudySize(BaseModel):
    """Sizes of one study (lengths in mm, regions in zoom voxels)."""

    model_config = ConfigDict(frozen=True)

    region_px: int
    zoom_voxel_mm: float = 0.01
    pores: int
    scout_blur_px: float = 0.8
    zoom_blur_px: float = 0.5
    scout_noise: float = 0.06
    zoom_noise: float = 0.03
    unet_iterations: int
    pore_scale: float = 1.0  # pore diameters of 4-24 zoom voxels, times this

    @property
    def region_mm(self) -> float:
        return self.region_px * self.zoom_voxel_mm

    def phantom_settings(self) -> PhantomSettings:
        """A cylinder holding two regions side by side; ``pores`` and porosity 0.2 set the mean pore size."""
        half = self.region_mm / 2.0
        return PhantomSettings(
            radius_mm=(0.55 * self.region_mm + half * np.sqrt(2.0)) * 1.05,
            height_mm=self.region_mm * 1.25,
            pores=self.pores,
            porosity=0.2,
            pore_size_sigma=0.35,
            min_pore_diameter_mm=4 * self.pore_scale * self.zoom_voxel_mm,
            max_pore_diameter_mm=24 * self.pore_scale * self.zoom_voxel_mm,
            min_wall_mm=2 * self.zoom_voxel_mm,
        )


SIZES: dict[str, StudySize] = {
    # pore counts give a mean diameter of about 10 (tiny, cpu) and 40 (paper, as published) zoom voxels
    "tiny": StudySize(region_px=40, pores=250, unet_iterations=60),
    "cpu": StudySize(region_px=64, pores=600, unet_iterations=300),
    "paper": StudySize(region_px=512, pores=5_500, pore_scale=3.0, unet_iterations=10_000),
}
SizeName = Literal["tiny", "cpu", "paper"]


@dataclass
class FoamPair:
    """Everything a method and the scorer need for one ratio."""

    ratio: float
    phantom: Phantom
    scout: np.ndarray  # on scout_grid
    scout_grid: VolumeGrid
    train_grid: VolumeGrid  # the zoom region
    zoom_train: np.ndarray
    eval_grid: VolumeGrid  # outside the zoom
    truth_eval: np.ndarray
    zoom_voxel_mm: float


def _scan(phantom: Phantom, grid: VolumeGrid, blur_px: float, noise: float, rng: np.random.Generator) -> np.ndarray:
    volume = voxelise(phantom, grid, supersample=3).astype(np.float64) / phantom.mu_per_mm
    volume = ndimage.gaussian_filter(volume, blur_px, mode="nearest") if blur_px > 0 else volume
    return (volume + rng.normal(0.0, noise, volume.shape)).astype(np.float32)


def make_pair(size: StudySize, ratio: float, seed: int = 0, phantom: Phantom | None = None) -> FoamPair:
    """The scout (whole sample width), zoom (left region) and truth (right region) for ``ratio``."""
    rng = np.random.default_rng(seed)
    phantom = phantom or generate_phantom(size.phantom_settings(), np.random.default_rng(seed))
    shift = 0.55 * size.region_mm
    n = size.region_px
    train_grid = VolumeGrid.isotropic((n, n, n), size.zoom_voxel_mm, (-shift, 0.0, 0.0))
    eval_grid = VolumeGrid.isotropic((n, n, n), size.zoom_voxel_mm, (shift, 0.0, 0.0))
    scout_voxel = size.zoom_voxel_mm * ratio
    margin = 4 * scout_voxel
    scout_grid = VolumeGrid.covering((2 * shift + size.region_mm + 2 * margin, size.region_mm + 2 * margin, size.region_mm + 2 * margin), scout_voxel)
    truth = (voxelise(phantom, eval_grid, supersample=3) / phantom.mu_per_mm).astype(np.float32)
    return FoamPair(
        ratio=ratio,
        phantom=phantom,
        scout=_scan(phantom, scout_grid, size.scout_blur_px, size.scout_noise, rng),
        scout_grid=scout_grid,
        train_grid=train_grid,
        zoom_train=_scan(phantom, train_grid, size.zoom_blur_px, size.zoom_noise, rng),
        eval_grid=eval_grid,
        truth_eval=truth,
        zoom_voxel_mm=size.zoom_voxel_mm,
    )
