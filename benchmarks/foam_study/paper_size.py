"""Sizes of the published (one-grid) foam protocol, ``--protocol paper``.

The assessment paper used one grid of 1 um voxels: two independent foam
realisations (A trains, B tests), 512 cone-beam projections over 360 degrees,
each blurred by a 2D Gaussian whose standard deviation is R um in the object
(R = 1: target; R = 3, 5, 7, 9: inputs) and given a fixed Poisson noise, then
FDK on that same grid. Pores keep their published sizes in um at every study
size (log-normal, up to 70 um, most below 25 um); a smaller study shrinks the
volume, and the pore count with it (same pores per um^3), and scales the
number of projections with the grid side as the paper's 512 for 512.

Lengths in mm unless a name says ``um``.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.simulate import PhantomSettings

# Realisation seeds. TRAIN_SEED makes realisation A; TEST_SEED (realisation B)
# is for the reported figures only; sizing and debugging use DEV_TEST_SEED.
TRAIN_SEED = 1301
TEST_SEED = 2602
DEV_TEST_SEED = 3903

PAPER_GRID_PX = 512
PAPER_PORES = 1400
CYLINDER_RADIUS_FRACTION = 0.47  # of the grid side
CYLINDER_HEIGHT_FRACTION = 0.94


class PaperSize(BaseModel):
    """One size of the one-grid protocol."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    grid_px: int = Field(ge=32, description="grid side (voxels of voxel_um)")
    voxel_um: float = 1.0
    angles: int | None = Field(None, description="projections over 360 deg; None: grid_px (the paper's 512 for 512)")
    photons: float = Field(10000.0, description="flat-field counts per detector pixel (fixed Poisson noise level)")
    pore_diameter_um: tuple[float, float] = (6.0, 70.0)
    pore_size_sigma: float = Field(0.5, description="log-normal sigma of the pore diameters")
    porosity: float = 0.12
    cone_half_angle_deg: float = Field(5.0, description="half the fan angle subtended by the object at the source")
    magnification: float = 10.0
    analysis_margin_um: float = Field(4.0, description="the analysed cylinder is the phantom shrunk by this")
    unet_presets: tuple[str, ...] = ("small", "medium")
    srcnn_iterations: int = 300
    srcnn_tile_px: int = 24
    unet_iterations: int | None = Field(None, description="None: the preset's own (with its early stopping)")

    @property
    def n_angles(self) -> int:
        return self.angles or self.grid_px

    @property
    def voxel_mm(self) -> float:
        return self.voxel_um / 1000.0

    @property
    def radius_mm(self) -> float:
        return CYLINDER_RADIUS_FRACTION * self.grid_px * self.voxel_mm

    @property
    def height_mm(self) -> float:
        return CYLINDER_HEIGHT_FRACTION * self.grid_px * self.voxel_mm

    @property
    def pores(self) -> int:
        """The paper's ~1,400 pores per 512^3 um^3, scaled to this volume."""
        return max(8, round(PAPER_PORES * (self.grid_px / PAPER_GRID_PX) ** 3))

    @property
    def source_to_axis_mm(self) -> float:
        return self.grid_px * self.voxel_mm / 2.0 / math.tan(math.radians(self.cone_half_angle_deg))

    @property
    def detector_px(self) -> int:
        """Detector side covering the cylinder's shadow (near side magnified most) with a margin."""
        sod = self.source_to_axis_mm
        near = self.magnification * sod / (sod - self.radius_mm)
        half_mm = max(self.radius_mm / math.sqrt(1.0 - (self.radius_mm / sod) ** 2), self.height_mm / 2.0) * near
        return 2 * math.ceil(half_mm / (self.voxel_mm * self.magnification) + 4)

    def phantom(self) -> PhantomSettings:
        lo, hi = self.pore_diameter_um
        return PhantomSettings(
            radius_mm=self.radius_mm,
            height_mm=self.height_mm,
            pores=self.pores,
            porosity=self.porosity,
            pore_size_sigma=self.pore_size_sigma,
            min_pore_diameter_mm=lo / 1000.0,
            max_pore_diameter_mm=hi / 1000.0,
            min_wall_mm=2 * self.voxel_mm,
            skin_mm=2 * self.voxel_mm,
        )


PAPER_SIZES: dict[str, PaperSize] = {
    # seconds: for the fast test of the protocol (pores scaled down so a few fit)
    "tiny": PaperSize(
        grid_px=48,
        angles=64,
        pore_diameter_um=(4.0, 14.0),
        porosity=0.08,
        pore_size_sigma=0.3,
        unet_presets=("small",),
        unet_iterations=40,
        srcnn_iterations=10,
        srcnn_tile_px=12,
    ),
    # 2 shared CPU cores, about an hour for every ratio and method (see benchmarks/README.md)
    "cpu": PaperSize(grid_px=160),
    # the published size, for a GPU machine
    "paper": PaperSize(
        grid_px=512, unet_presets=("small", "medium", "standard"), srcnn_iterations=10000, srcnn_tile_px=32
    ),
}
PaperSizeName = Literal["tiny", "cpu", "paper"]
