"""Typed ``scan.json`` (acquisition contract version 1, see DESIGN.md).

Lengths in millimetres, angles in degrees. Unknown keys are kept (and written
back) but otherwise ignored, so vendors and labs can add their own.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models.conditions import AcquisitionConditions
from pipeline.grid import VolumeGrid

PositiveFloat = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]
MAX_DETECTOR_SIDE = 32768  # larger claims are treated as corrupt metadata
MAX_ANGLES = 100_000


class AngleRange(BaseModel):
    """Equally spaced angles: ``start + step * i`` for ``i < count``."""

    model_config = ConfigDict(extra="allow")

    start: float = 0.0
    step: float
    count: Annotated[int, Field(gt=0, le=MAX_ANGLES)]

    @field_validator("step")
    @classmethod
    def _nonzero(cls, value: float) -> float:
        if value == 0 or not math.isfinite(value):
            raise ValueError(f"step must be finite and non-zero (got {value})")
        return value


class Geometry(BaseModel):
    """Circular cone-beam geometry of one scan (frame in DESIGN.md)."""

    model_config = ConfigDict(extra="allow")

    source_to_axis_mm: PositiveFloat
    source_to_detector_mm: PositiveFloat
    detector_shape: tuple[
        Annotated[int, Field(gt=0, le=MAX_DETECTOR_SIDE)], Annotated[int, Field(gt=0, le=MAX_DETECTOR_SIDE)]
    ]
    detector_pixel_mm: tuple[PositiveFloat, PositiveFloat]
    detector_offset_px: tuple[float, float] = (0.0, 0.0)
    angles_deg: AngleRange | list[float]

    @field_validator("angles_deg")
    @classmethod
    def _angles_finite(cls, value: AngleRange | list[float]) -> AngleRange | list[float]:
        if isinstance(value, list):
            if not value:
                raise ValueError("angles_deg list is empty")
            if len(value) > MAX_ANGLES:
                raise ValueError(f"angles_deg has {len(value)} entries (max {MAX_ANGLES})")
            if not all(math.isfinite(a) for a in value):
                raise ValueError("angles_deg contains non-finite values")
        return value

    @model_validator(mode="after")
    def _source_before_detector(self) -> Geometry:
        if self.source_to_detector_mm <= self.source_to_axis_mm:
            raise ValueError(
                "source_to_detector_mm must exceed source_to_axis_mm "
                f"(got {self.source_to_detector_mm} <= {self.source_to_axis_mm})"
            )
        return self

    # -- derived --------------------------------------------------------------
    @property
    def n_angles(self) -> int:
        return self.angles_deg.count if isinstance(self.angles_deg, AngleRange) else len(self.angles_deg)

    def angles(self) -> np.ndarray:
        """All projection angles in degrees, float64."""
        if isinstance(self.angles_deg, AngleRange):
            return self.angles_deg.start + self.angles_deg.step * np.arange(self.angles_deg.count, dtype=float)
        return np.asarray(self.angles_deg, dtype=float)

    @property
    def magnification(self) -> float:
        return self.source_to_detector_mm / self.source_to_axis_mm

    @property
    def rows(self) -> int:
        return self.detector_shape[0]

    @property
    def columns(self) -> int:
        return self.detector_shape[1]

    def principal_point_px(self) -> tuple[float, float]:
        """(row, column) where the central ray meets the detector."""
        return (
            (self.rows - 1) / 2.0 + self.detector_offset_px[0],
            (self.columns - 1) / 2.0 + self.detector_offset_px[1],
        )

    def fan_half_angle_deg(self) -> float:
        """Half the fan angle spanned by the detector columns (largest side of the principal point)."""
        pp_col = self.principal_point_px()[1]
        half_width_mm = max(pp_col + 0.5, self.columns - 0.5 - pp_col) * self.detector_pixel_mm[1]
        return math.degrees(math.atan2(half_width_mm, self.source_to_detector_mm))

    def angular_coverage_deg(self) -> float:
        """Angular range covered, counting one step for the last projection."""
        angles = np.sort(self.angles())
        if angles.size < 2:
            return 0.0
        return float(angles[-1] - angles[0] + np.median(np.diff(angles)))

    def field_of_view_radius_mm(self) -> float:
        """Radius of the cylinder seen at every angle (at the source's height)."""
        pp_col = self.principal_point_px()[1]
        half_width_mm = min(pp_col + 0.5, self.columns - 0.5 - pp_col) * self.detector_pixel_mm[1]
        fan = math.atan2(half_width_mm, self.source_to_detector_mm)
        return self.source_to_axis_mm * math.sin(fan)

    def field_of_view_height_mm(self) -> float:
        """Height of the detector rows' shadow at the rotation axis."""
        return self.rows * self.detector_pixel_mm[0] / self.magnification


Conditions = AcquisitionConditions  # scan.json's ``conditions``: the record the model card keeps too


class ScanMetadata(BaseModel):
    """``scan.json``, contract version 1."""

    model_config = ConfigDict(extra="allow")

    format_version: Literal[1]
    role: Literal["scout", "zoom"]
    data: Literal["projections"] = "projections"
    sample_id: str
    values: Literal["intensity", "transmission", "line_integral"]
    geometry: Geometry
    sample_position_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    conditions: Conditions = Field(default_factory=Conditions)
    recon_voxel_mm: PositiveFloat | None = None
    sample_class: str | None = None

    @field_validator("sample_position_mm")
    @classmethod
    def _finite_position(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if not all(math.isfinite(v) for v in value):
            raise ValueError(f"sample_position_mm must be finite (got {value})")
        return value

    @property
    def voxel_mm(self) -> float:
        """Reconstruction voxel size: given, or column pitch / magnification."""
        if self.recon_voxel_mm is not None:
            return self.recon_voxel_mm
        return self.geometry.detector_pixel_mm[1] / self.geometry.magnification

    def native_grid(self) -> VolumeGrid:
        """The default reconstruction grid: the field-of-view cylinder's bounding box at ``voxel_mm``."""
        radius = self.geometry.field_of_view_radius_mm()
        height = self.geometry.field_of_view_height_mm()
        return VolumeGrid.covering((2 * radius, 2 * radius, height), self.voxel_mm)


class VolumeSpec(BaseModel):
    """Where a reconstructed volume is and how to place it (``scan.json`` ``volume``; DESIGN.md "Volume scans")."""

    model_config = ConfigDict(extra="allow")

    file: str
    voxel_mm: PositiveFloat | tuple[PositiveFloat, PositiveFloat, PositiveFloat] | None = None
    slice_order: Literal["bottom_up", "top_down"] = "bottom_up"
    units: str | None = None

    @field_validator("file")
    @classmethod
    def _relative(cls, value: str) -> str:
        if not value or value.startswith("/") or ".." in value.replace("\\", "/").split("/"):
            raise ValueError(f"file must be a path inside the scan directory (got {value!r})")
        return value

    def voxel_zyx_mm(self) -> tuple[float, float, float] | None:
        """The given voxel size as ``(z, y, x)`` mm, or None when the file must carry it."""
        if self.voxel_mm is None:
            return None
        if isinstance(self.voxel_mm, tuple):
            return tuple(float(v) for v in self.voxel_mm)  # type: ignore[return-value]
        return (float(self.voxel_mm),) * 3


class VolumeScanMetadata(BaseModel):
    """``scan.json`` of a scan that holds a reconstructed volume (``"data": "volume"``, no geometry)."""

    model_config = ConfigDict(extra="allow")

    format_version: Literal[1]
    role: Literal["scout", "zoom"]
    data: Literal["volume"]
    sample_id: str
    volume: VolumeSpec
    sample_position_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    conditions: Conditions = Field(default_factory=Conditions)
    sample_class: str | None = None

    @field_validator("sample_position_mm")
    @classmethod
    def _finite_position(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if not all(math.isfinite(v) for v in value):
            raise ValueError(f"sample_position_mm must be finite (got {value})")
        return value

    @property
    def voxel_mm(self) -> float:
        """Mean voxel size (mm), as ``ScanMetadata.voxel_mm``; known once the volume is read (the reader fills
        ``volume.voxel_mm`` from the file when ``scan.json`` leaves it out)."""
        voxel = self.volume.voxel_zyx_mm()
        if voxel is None:
            raise ValueError("volume.voxel_mm unknown until the volume file is read")
        return float(np.mean(voxel))


def scan_data_kind(document: object) -> str:
    """``"projections"`` or ``"volume"``: what a ``scan.json`` document says it holds (default projections)."""
    if isinstance(document, dict):
        return str(document.get("data", "projections"))
    return str(getattr(document, "data", "projections"))


def parse_scan_document(document: dict) -> ScanMetadata | VolumeScanMetadata:
    """Validate a ``scan.json`` document as a projection or a volume scan (raises pydantic's ValidationError)."""
    if scan_data_kind(document) == "volume":
        return VolumeScanMetadata.model_validate(document)
    return ScanMetadata.model_validate(document)


def pair_offset_mm(scout: ScanMetadata | VolumeScanMetadata, zoom: ScanMetadata | VolumeScanMetadata) -> np.ndarray:
    """Stage prior: the zoom volume centre in the scout frame ([x, y, z] mm)."""
    return np.asarray(zoom.sample_position_mm, dtype=float) - np.asarray(scout.sample_position_mm, dtype=float)


def json_schema() -> dict:
    """JSON Schema of ``scan.json`` (``scoutzoom schema``)."""
    schema = ScanMetadata.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "scoutzoom scan.json (acquisition contract v1)"
    return schema


def volume_json_schema() -> dict:
    """JSON Schema of a volume scan's ``scan.json`` (``"data": "volume"``)."""
    schema = VolumeScanMetadata.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "scoutzoom scan.json of a volume scan (acquisition contract v1, volume addition)"
    return schema
