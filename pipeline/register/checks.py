"""What makes a registration untrustworthy: bad inputs, implausible shapes, runaway shifts, a low correlation."""

from __future__ import annotations

import numpy as np

from pipeline.errors import RegistrationError
from pipeline.grid import VolumeGrid
from pipeline.register.config import RegistrationConfig
from pipeline.register.frames import WorkingFrames


def check_inputs(
    zoom: np.ndarray,
    zoom_mask: np.ndarray,
    zoom_grid: VolumeGrid,
    scout: np.ndarray,
    scout_mask: np.ndarray,
    scout_box_grid: VolumeGrid,
) -> None:
    """Raise :class:`RegistrationError` naming every shape or overlap problem."""
    problems = []
    if zoom.shape != zoom_grid.shape_zyx or zoom_mask.shape != zoom.shape:
        problems.append(f"zoom {zoom.shape} / mask {zoom_mask.shape} do not match the zoom grid {zoom_grid.shape_zyx}")
    if scout.shape != scout_box_grid.shape_zyx or scout_mask.shape != scout.shape:
        problems.append(
            f"scout {scout.shape} / mask {scout_mask.shape} do not match the scout box grid {scout_box_grid.shape_zyx}"
        )
    if scout_box_grid.shape_zyx != zoom_grid.shape_zyx or not np.allclose(
        scout_box_grid.spacing_mm, zoom_grid.spacing_mm
    ):
        problems.append("the scout box grid must have the zoom grid's shape and spacing")
    if not problems and np.count_nonzero(zoom_mask & scout_mask) < 1000:
        problems.append("fewer than 1000 voxels lie inside both masks")
    if problems:
        raise RegistrationError("; ".join(problems))


def itk_message(exc: Exception) -> str:
    """The useful line of an ITK exception (it starts with the source file)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    errors = [line.split("):", 1)[-1].strip() for line in lines if "ERROR" in line]
    return errors[0] if errors else (lines[-1] if lines else type(exc).__name__)


def shape_failures(config: RegistrationConfig, rotation_deg: np.ndarray, scale: np.ndarray) -> list[str]:
    """Rotation or scale outside what a remount or a calibration error can explain."""
    failures = []
    angle = float(np.linalg.norm(rotation_deg))
    if angle > config.max_rotation_deg:
        failures.append(f"rotation {angle:.2f} deg exceeds {config.max_rotation_deg} deg")
    if np.any(np.abs(scale - 1.0) > config.max_scale_error):
        failures.append(f"scale {np.round(scale, 4).tolist()} is more than {config.max_scale_error:.0%} from 1")
    return failures


def search_bound_mm(config: RegistrationConfig, frames: WorkingFrames) -> np.ndarray:
    """Per-axis stage error (mm) beyond which the result counts as outside the search."""
    return config.bound_margin * config.search_radius_fraction * np.asarray(frames.zoom_grid.size_mm)


def geometry_failures(
    config: RegistrationConfig,
    frames: WorkingFrames,
    stage_error_mm: np.ndarray,
    metric_prior: float,
    metric_final: float,
) -> list[str]:
    """A metric that did not improve on the prior, or a stage error at the search bounds."""
    failures = []
    if not metric_final < metric_prior - 1e-4 * abs(metric_prior):
        failures.append(f"the metric did not improve (prior {metric_prior:.4f}, final {metric_final:.4f})")
    bound_mm = search_bound_mm(config, frames)
    if np.any(np.abs(stage_error_mm) > bound_mm):
        failures.append(
            f"the stage error {np.round(stage_error_mm, 4).tolist()} mm is at or beyond the search bounds "
            f"{np.round(bound_mm, 4).tolist()} mm"
        )
    return failures


def correlation_floor(config: RegistrationConfig, achievable: float) -> float:
    """The correlation the registered scout must reach: a fraction of the achievable one (and the absolute floor)."""
    return max(config.min_correlation, config.min_correlation_fraction * achievable)
