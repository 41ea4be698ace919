"""Settings of a simulated scout/zoom pair (``scoutzoom simulate``).

Defaults make the *small* pair every CPU test and the demo use: 128-pixel
detectors, 180 angles over a full turn, about 1,000 pores, ratio 3:1.
Lengths in millimetres, angles in degrees.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PositiveFloat = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]


class PhantomSettings(BaseModel):
    """A foam: a solid cylinder (axis z, centred at the origin) with spherical pores."""

    model_config = ConfigDict(extra="forbid")

    radius_mm: PositiveFloat = 1.0
    height_mm: PositiveFloat = 2.0
    central_line_integral: PositiveFloat = Field(
        1.8, description="line integral of the solid along a diameter; fixes mu = value / (2 * radius)"
    )
    pores: PositiveInt = 1000
    porosity: Annotated[float, Field(gt=0, lt=0.45)] = 0.2
    pore_size_sigma: Annotated[float, Field(ge=0, le=1.5)] = Field(
        0.8, description="log-normal sigma of pore diameters"
    )
    min_pore_diameter_mm: PositiveFloat = 0.01
    max_pore_diameter_mm: PositiveFloat = 0.3
    min_wall_mm: Annotated[float, Field(ge=0)] = Field(0.004, description="smallest solid gap between two pores")
    skin_mm: Annotated[float, Field(ge=0)] = Field(
        0.02, description="smallest solid gap between a pore and the cylinder surface"
    )

    @model_validator(mode="after")
    def _sizes(self) -> PhantomSettings:
        if self.min_pore_diameter_mm >= self.max_pore_diameter_mm:
            raise ValueError(
                f"min_pore_diameter_mm must be below max_pore_diameter_mm (got {self.min_pore_diameter_mm} >= "
                f"{self.max_pore_diameter_mm})"
            )
        if self.max_pore_diameter_mm + 2 * self.skin_mm >= min(2 * self.radius_mm, self.height_mm):
            raise ValueError(f"max_pore_diameter_mm {self.max_pore_diameter_mm} does not fit in the cylinder")
        return self


class ScanSettings(BaseModel):
    """Acquisition of one scan: detector, dose, blur and recorded conditions."""

    model_config = ConfigDict(extra="forbid")

    detector_px: Annotated[int, Field(ge=8, le=4096)] = 128
    angles: Annotated[int, Field(ge=2, le=20000)] = 180
    photons: Annotated[float, Field(gt=0, le=50000)] = Field(
        5000.0, description="flat-field counts per pixel (I0) at the detector centre"
    )
    blur_sigma_px: Annotated[float, Field(ge=0)] = Field(1.0, description="Gaussian detector PSF sigma, pixels")
    detector_offset_px: tuple[float, float] = (0.0, 0.0)
    objective: str = "4X"
    voltage_kv: float = 80.0
    current_ua: float = 87.0
    filter: str = "LE2"
    binning: int = 2
    exposure_s: float = 1.0


def _default_scout() -> ScanSettings:
    return ScanSettings()


def _default_zoom() -> ScanSettings:
    return ScanSettings(photons=10000.0, blur_sigma_px=0.6, objective="20X", exposure_s=4.0)


class SimulationConfig(BaseModel):
    """Every knob of :func:`pipeline.simulate.simulate_pair`."""

    model_config = ConfigDict(extra="forbid")

    format_version: Literal[1] = 1
    seed: int = 0
    sample_id: str = "foam-sim"
    ratio: Annotated[float, Field(ge=1.0, le=20.0)] = 3.0
    phantom: PhantomSettings = Field(default_factory=PhantomSettings)
    scout: ScanSettings = Field(default_factory=_default_scout)
    zoom: ScanSettings = Field(default_factory=_default_zoom)

    # scout geometry; the zoom keeps source_to_detector and shrinks source_to_axis by ``ratio``
    source_to_axis_mm: PositiveFloat = 25.0
    source_to_detector_mm: PositiveFloat = 250.0
    scout_field_of_view_mm: PositiveFloat = Field(
        2.56, description="scout detector width at the axis; sets scout_voxel_mm when that is not given"
    )
    scout_voxel_mm: PositiveFloat | None = Field(
        None,
        description="scout voxel; sets the detector pitch = voxel * magnification (default: field of view / "
        "detector_px)",
    )
    zoom_by: Literal["geometry", "objective"] = Field(
        "geometry",
        description="geometry: zoom source moved closer (source_to_axis / ratio, same pitch); "
        "objective: same distances, detector pitch / ratio (an optical objective)",
    )

    # where the zoom looks and how wrong the stage is
    zoom_centre_mm: tuple[float, float, float] | None = Field(
        None, description="true zoom centre in the sample frame; default from the fractions below"
    )
    zoom_lateral_fraction: Annotated[float, Field(ge=0, lt=1)] = 0.3
    zoom_azimuth_deg: float = 30.0
    zoom_vertical_fraction: Annotated[float, Field(gt=-0.5, lt=0.5)] = 0.1
    stage_error_mm: Annotated[float, Field(ge=0)] | None = Field(
        None, description="size of the recorded zoom position error; default 3 zoom voxels"
    )
    remount_rotation_deg: tuple[float, float, float] = Field(
        (0.0, 0.0, 0.0), description="rotation vector of the sample between scans"
    )
    zoom_scale_error: Annotated[float, Field(gt=-0.2, lt=0.2)] = Field(
        0.0, description="recorded zoom source_to_axis = true * (1 + error)"
    )

    # outputs
    layout: Literal["stack", "files"] = "stack"
    projection_supersample: Annotated[int, Field(ge=1, le=8)] = 2
    truth_supersample: Annotated[int, Field(ge=1, le=8)] = 2
    truth_volumes: bool = True
    context_factor_xy: Annotated[float, Field(ge=1.0)] = 2.0
    context_factor_z: Annotated[float, Field(ge=1.0)] = 1.0
    flat_frames: Annotated[int, Field(ge=0, le=256)] = Field(
        16, description="noisy flat/dark pages to write (0: one noiseless float32 page)"
    )
    dark_counts: Annotated[float, Field(ge=0, le=5000)] = 100.0
    read_noise_counts: Annotated[float, Field(ge=0)] = 3.0
    flat_falloff: Annotated[float, Field(ge=0, lt=0.9)] = Field(
        0.15, description="beam intensity drop from detector centre to corner"
    )

    @model_validator(mode="after")
    def _resolve_voxel(self) -> SimulationConfig:
        if self.scout_voxel_mm is None:
            self.scout_voxel_mm = self.scout_field_of_view_mm / self.scout.detector_px
        return self

    @property
    def scout_voxel(self) -> float:
        """Scout voxel (mm), resolved."""
        assert self.scout_voxel_mm is not None
        return self.scout_voxel_mm

    @property
    def zoom_voxel_mm(self) -> float:
        return self.scout_voxel / self.ratio

    @property
    def detector_pitch_mm(self) -> float:
        """Scout detector pitch (both directions)."""
        return self.scout_voxel * self.source_to_detector_mm / self.source_to_axis_mm

    def true_zoom_centre_mm(self) -> tuple[float, float, float]:
        """The sample point at the zoom volume centre (sample frame)."""
        if self.zoom_centre_mm is not None:
            return self.zoom_centre_mm
        lateral = self.zoom_lateral_fraction * self.phantom.radius_mm
        azimuth = math.radians(self.zoom_azimuth_deg)
        return (
            lateral * math.cos(azimuth),
            lateral * math.sin(azimuth),
            self.zoom_vertical_fraction * self.phantom.height_mm,
        )
