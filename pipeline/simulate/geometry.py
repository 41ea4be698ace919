"""Scan metadata and frames of a simulated pair (contract v1).

The scout sees the whole sample with the cylinder centre on its axis, so its
frame *is* the sample frame (``sample_position_mm = 0``). The zoom sees an
interior region around ``c`` (true zoom centre), magnified ``ratio`` times.

Truth of the zoom, as its reconstruction will see it: with the recorded
``source_to_axis = k * true`` (``k = 1 + zoom_scale_error``) a cone-beam
reconstruction is the true object scaled by ``k`` about the volume centre
(exactly: scaling object and source distance by ``k`` leaves every ray's
direction unchanged). With the sample remounted by rotation ``Q`` a zoom-frame
point ``x`` is the sample point ``Q^T x / k + c``; that is the 3x4
zoom -> scout mapping recorded in ``truth.json``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from pipeline.acquisition.contract import AngleRange, Conditions, Geometry, ScanMetadata
from pipeline.grid import VolumeGrid
from pipeline.simulate.config import ScanSettings, SimulationConfig


@dataclass(frozen=True)
class PairGeometry:
    """Everything geometric about a simulated pair (true and recorded)."""

    scout: ScanMetadata
    zoom_true: ScanMetadata  # true geometry and true position: what the projector uses
    zoom_recorded: ScanMetadata  # what scan.json says
    mount_rotation: np.ndarray  # Q, sample frame -> zoom scan frame at angle 0

    @property
    def scale_factor(self) -> float:
        """k: recorded / true zoom source-to-axis distance."""
        return self.zoom_recorded.geometry.source_to_axis_mm / self.zoom_true.geometry.source_to_axis_mm

    def zoom_to_scout(self) -> np.ndarray:
        """3x4 ``[A | t]``: zoom-frame point (mm) -> scout-frame point (mm)."""
        linear = self.mount_rotation.T / self.scale_factor
        offset = np.asarray(self.zoom_true.sample_position_mm) - np.asarray(self.scout.sample_position_mm)
        return np.hstack([linear, offset[:, None]])

    def zoom_grid_in_scout_frame(self, zoom_grid: VolumeGrid) -> VolumeGrid:
        """The grid that lies voxel for voxel on ``zoom_grid`` (a zoom-frame grid), in the scout frame."""
        mapping = self.zoom_to_scout()
        linear, offset = mapping[:, :3], mapping[:, 3]
        centre = linear @ np.asarray(zoom_grid.centre_mm) + offset
        direction = self.mount_rotation.T @ zoom_grid.direction_matrix
        spacing = tuple(s / self.scale_factor for s in zoom_grid.spacing_mm)
        return VolumeGrid(
            shape_zyx=zoom_grid.shape_zyx,
            spacing_mm=spacing,
            centre_mm=tuple(float(v) for v in centre),
            direction=tuple(float(v) for v in direction.ravel()),
        )


def _conditions(settings: ScanSettings) -> Conditions:
    return Conditions(
        voltage_kv=settings.voltage_kv,
        current_ua=settings.current_ua,
        filter=settings.filter,
        objective=settings.objective,
        binning=settings.binning,
        exposure_s=settings.exposure_s,
    )


def _metadata(
    config: SimulationConfig,
    role: str,
    settings: ScanSettings,
    source_to_axis_mm: float,
    pitch_mm: float,
    voxel_mm: float,
    position_mm: tuple[float, float, float],
) -> ScanMetadata:
    n = settings.detector_px
    geometry = Geometry(
        source_to_axis_mm=source_to_axis_mm,
        source_to_detector_mm=config.source_to_detector_mm,
        detector_shape=(n, n),
        detector_pixel_mm=(pitch_mm, pitch_mm),
        detector_offset_px=settings.detector_offset_px,
        angles_deg=AngleRange(start=0.0, step=360.0 / settings.angles, count=settings.angles),
    )
    return ScanMetadata(
        format_version=1,
        role=role,
        sample_id=config.sample_id,
        values="intensity",
        geometry=geometry,
        sample_position_mm=tuple(float(v) for v in position_mm),
        conditions=_conditions(settings),
        recon_voxel_mm=voxel_mm,
    )


def unit_vector(rng: np.random.Generator) -> np.ndarray:
    """A direction uniform on the sphere."""
    vector = rng.standard_normal(3)
    return vector / np.linalg.norm(vector)


def pair_geometry(config: SimulationConfig, rng: np.random.Generator) -> PairGeometry:
    """Scout and zoom metadata (true and recorded); ``rng`` draws the stage error direction."""
    pitch = config.detector_pitch_mm
    scout = _metadata(
        config, "scout", config.scout, config.source_to_axis_mm, pitch, config.scout_voxel, (0.0, 0.0, 0.0)
    )
    _check_scout_fits(config, scout)
    if config.zoom_by == "geometry":
        zoom_sod, zoom_pitch = config.source_to_axis_mm / config.ratio, pitch
    else:
        zoom_sod, zoom_pitch = config.source_to_axis_mm, pitch / config.ratio
    centre = np.asarray(config.true_zoom_centre_mm(), dtype=float)
    zoom_true = _metadata(config, "zoom", config.zoom, zoom_sod, zoom_pitch, config.zoom_voxel_mm, tuple(centre))
    k = 1.0 + config.zoom_scale_error
    error_mm = 3.0 * config.zoom_voxel_mm if config.stage_error_mm is None else config.stage_error_mm
    recorded_position = centre + error_mm * unit_vector(rng)
    zoom_recorded = _metadata(
        config, "zoom", config.zoom, zoom_sod * k, zoom_pitch, config.zoom_voxel_mm * k, tuple(recorded_position)
    )
    rotation = Rotation.from_rotvec(np.radians(config.remount_rotation_deg)).as_matrix()
    return PairGeometry(scout=scout, zoom_true=zoom_true, zoom_recorded=zoom_recorded, mount_rotation=rotation)


def _check_scout_fits(config: SimulationConfig, scout: ScanMetadata) -> None:
    """The whole cylinder must cast its shadow inside the scout detector at every angle."""
    geometry = scout.geometry
    radius, half_height = config.phantom.radius_mm, config.phantom.height_mm / 2.0
    nearest_mm = geometry.source_to_axis_mm - radius
    if nearest_mm <= 0:
        raise ValueError(
            f"the scout source ({geometry.source_to_axis_mm} mm) is inside the sample (radius {radius} mm)"
        )
    shadow_u = radius / math.sqrt(1.0 - (radius / geometry.source_to_axis_mm) ** 2) * geometry.magnification
    shadow_v = half_height * geometry.source_to_detector_mm / nearest_mm
    pp_r, pp_c = geometry.principal_point_px()
    room_u = min(pp_c + 0.5, geometry.columns - 0.5 - pp_c) * geometry.detector_pixel_mm[1]
    room_v = min(pp_r + 0.5, geometry.rows - 0.5 - pp_r) * geometry.detector_pixel_mm[0]
    if shadow_u >= room_u or shadow_v >= room_v:
        raise ValueError(
            f"the sample's shadow ({2 * shadow_u:.2f} x {2 * shadow_v:.2f} mm) does not fit on the scout detector "
            f"({2 * room_u:.2f} x {2 * room_v:.2f} mm); enlarge detector_px or scout_voxel_mm, or shrink the phantom"
        )
