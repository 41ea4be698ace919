"""Study sizes and the simulated pair of one ratio (projections, not images).

The zoom voxel is the same at every ratio and the scout voxel is ``ratio``
times it: the truth, the evaluation grid and the pores (in zoom voxels) are
then identical across ratios and only the scout gets coarser, which is what
"recovery vs ratio" should measure. (Fixing the scout voxel instead would
shrink the zoom voxel with the ratio, so the evaluation grid, the pore sizes
in evaluation voxels and the cost of the recovered region would all change
with the ratio.) The zoom magnifies by an objective (same distances, detector
pitch / ratio), so cone angles do not change with the ratio either.

Layout (sample frame = scout frame): a foam cylinder; the zoom looks at a
point ``lateral_fraction * radius`` off the axis at azimuth 30 degrees; the
evaluation region (a cube, recovered by the product but never trained on)
sits at the mirror point, disjoint from the zoom's field of view.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.simulate import PhantomSettings, ScanSettings, SimulationConfig

AZIMUTH_DEG = 30.0


class StudySize(BaseModel):
    """One study size; lengths in mm, pore diameters and regions in zoom voxels."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    zoom_voxel_mm: float = 0.01
    zoom_detector_px: int = Field(description="zoom detector width; the zoom grid is about this many voxels a side")
    eval_px: int = Field(description="side of the evaluation cube outside the zoom")
    angles: int = 180
    pores: int
    pore_px: tuple[float, float] = Field(description="min and max pore diameter")
    pore_size_sigma: float = 0.35
    porosity: float = 0.2
    lateral_fraction: float = 0.4
    preset: Literal["small", "standard"] = "small"
    unet_iterations: int | None = Field(None, description="None: the preset's (with its early stopping)")
    srcnn_iterations: int = 150
    srcnn_tile_px: int = 16

    @property
    def radius_mm(self) -> float:
        """Smallest cylinder whose zoom and evaluation regions (mirror points) are disjoint, with a margin."""
        zoom_radius = self.zoom_detector_px * self.zoom_voxel_mm / 2
        eval_half_diagonal = self.eval_px * self.zoom_voxel_mm / math.sqrt(2)
        return (zoom_radius + eval_half_diagonal + 4 * self.zoom_voxel_mm) / (2 * self.lateral_fraction)

    @property
    def height_mm(self) -> float:
        return (max(self.zoom_detector_px, self.eval_px) + 8) * self.zoom_voxel_mm

    def phantom(self) -> PhantomSettings:
        v = self.zoom_voxel_mm
        return PhantomSettings(
            radius_mm=self.radius_mm,
            height_mm=self.height_mm,
            pores=self.pores,
            porosity=self.porosity,
            pore_size_sigma=self.pore_size_sigma,
            min_pore_diameter_mm=self.pore_px[0] * v,
            max_pore_diameter_mm=self.pore_px[1] * v,
            min_wall_mm=2 * v,
            skin_mm=2 * v,
        )

    def zoom_centre_mm(self) -> tuple[float, float, float]:
        a, d = math.radians(AZIMUTH_DEG), self.lateral_fraction * self.radius_mm
        return (d * math.cos(a), d * math.sin(a), 0.0)

    def eval_centre_mm(self) -> tuple[float, float, float]:
        x, y, z = self.zoom_centre_mm()
        return (-x, -y, z)

    def eval_size_mm(self) -> tuple[float, float, float]:
        side = self.eval_px * self.zoom_voxel_mm
        return (side, side, side)

    def simulation(self, ratio: float, seed: int) -> SimulationConfig:
        """The simulator's settings at ``ratio`` (same phantom for every ratio of one seed)."""
        scout_voxel = ratio * self.zoom_voxel_mm
        # the scout sees the whole sample (cone magnification of the near side included)
        scout_px = max(16, math.ceil(2.3 * self.radius_mm / scout_voxel))
        return SimulationConfig(
            seed=seed,
            ratio=ratio,
            phantom=self.phantom(),
            scout_voxel_mm=scout_voxel,
            zoom_by="objective",
            scout=ScanSettings(detector_px=scout_px, angles=self.angles),
            zoom=ScanSettings(
                detector_px=self.zoom_detector_px,
                angles=self.angles,
                photons=10000.0,
                blur_sigma_px=0.6,
                objective="20X",
                exposure_s=4.0,
            ),
            zoom_centre_mm=self.zoom_centre_mm(),
            truth_volumes=False,
            flat_frames=4,
        )

    def voxel_table(self, ratio: float) -> dict[str, float]:
        """Pore diameters against both voxels at ``ratio`` (is recovery meaningful?)."""
        lo, hi = self.pore_px
        return {
            "zoom_voxel_mm": self.zoom_voxel_mm,
            "scout_voxel_mm": ratio * self.zoom_voxel_mm,
            "pore_min_zoom_px": lo,
            "pore_max_zoom_px": hi,
            "pore_min_scout_px": lo / ratio,
            "pore_max_scout_px": hi / ratio,
        }


SIZES: dict[str, StudySize] = {
    "tiny": StudySize(
        zoom_detector_px=48,
        eval_px=32,
        angles=90,
        pores=450,
        pore_px=(5.0, 14.0),
        unet_iterations=100,
        srcnn_iterations=30,
        srcnn_tile_px=12,
    ),
    "cpu": StudySize(zoom_detector_px=96, eval_px=88, pores=1100, pore_px=(8.0, 30.0)),
    # the published study: 512^3, ~1,400 pores of ~30-40 zoom voxels; GPU preset and training length
    "paper": StudySize(
        zoom_detector_px=512,
        eval_px=320,
        angles=1200,
        pores=9000,
        pore_px=(16.0, 80.0),
        preset="standard",
        srcnn_iterations=3000,
        srcnn_tile_px=32,
    ),
}
SizeName = Literal["tiny", "cpu", "paper"]
