"""``OUT_DIR/truth/``: what the simulator knows and the pipeline must recover.

``truth.json`` (:class:`SimulationTruth`), ``phantom.json`` (:class:`Phantom`)
and voxelised attenuation volumes (float32 TIFF, ``[z, y, x]``):

- ``scout.tif`` on the scout native grid;
- ``zoom.tif`` voxel for voxel on the grid a reconstruction of the *recorded*
  zoom metadata uses (``grids.zoom_recon``, zoom frame), i.e. on
  ``grids.zoom`` in the scout frame;
- ``context.tif``: the zoom lattice extended over a larger region of the
  scout (``grids.context``, scout frame), clipped to the sample.

Frames: the scout frame is the sample frame (cylinder centre at the origin).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import tifffile
from pydantic import BaseModel, Field

from models.errors import InputError
from pipeline.grid import VolumeGrid
from pipeline.simulate.config import SimulationConfig
from pipeline.simulate.phantom import Phantom

TRUTH_JSON = "truth.json"
PHANTOM_JSON = "phantom.json"
VOLUME_FILES = {"scout": "scout.tif", "zoom": "zoom.tif", "context": "context.tif"}


class TruthGrids(BaseModel):
    """Grids of the truth volumes (and the zoom's own reconstruction grid)."""

    scout: VolumeGrid = Field(description="scout native grid, scout frame")
    zoom: VolumeGrid = Field(
        description="zoom_recon as it lies in the scout frame (rotated/scaled by the remount and scale error)"
    )
    zoom_recon: VolumeGrid = Field(description="native grid of the recorded zoom metadata, zoom frame")
    context: VolumeGrid = Field(description="the zoom lattice extended over a larger scout region, scout frame")


class SimulationTruth(BaseModel):
    """Ground truth of one simulated pair."""

    format_version: Literal[1] = 1
    seed: int
    ratio: float
    config: SimulationConfig
    n_pores: int
    porosity: float = Field(description="analytic pore volume / cylinder volume")
    mu_per_mm: float
    scout_voxel_mm: float
    zoom_voxel_true_mm: float
    zoom_voxel_recorded_mm: float
    zoom_position_true_mm: tuple[float, float, float]
    zoom_position_recorded_mm: tuple[float, float, float]
    zoom_position_error_mm: tuple[float, float, float] = Field(description="recorded - true")
    remount_rotation_deg: tuple[float, float, float] = Field(description="rotation vector, degrees")
    remount_rotation_matrix: tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]
    zoom_source_to_axis_true_mm: float
    zoom_source_to_axis_recorded_mm: float
    zoom_scale_factor: float = Field(description="recorded / true zoom source_to_axis (k)")
    zoom_to_scout: tuple[
        tuple[float, float, float, float], tuple[float, float, float, float], tuple[float, float, float, float]
    ] = Field(description="3x4 [A | t]: scout-frame point = A @ zoom-frame point + t (mm)")
    grids: TruthGrids
    volumes: dict[str, str] = Field(default_factory=dict, description="name -> file in the truth folder")

    def map_zoom_to_scout(self, points_mm: np.ndarray) -> np.ndarray:
        """Zoom-frame points ``[..., 3]`` -> scout-frame points (mm)."""
        matrix = np.asarray(self.zoom_to_scout, dtype=float)
        return np.asarray(points_mm, dtype=float) @ matrix[:, :3].T + matrix[:, 3]


def context_grid(zoom: VolumeGrid, phantom: Phantom, factor_xy: float, factor_z: float) -> VolumeGrid:
    """The zoom lattice over ``factor`` times the zoom extent, clipped to the sample's bounding box."""
    cyl = phantom.cylinder
    r, h = cyl.radius_mm, cyl.height_mm / 2.0
    corners = np.asarray(cyl.centre_mm) + np.array([[x, y, z] for x in (-r, r) for y in (-r, r) for z in (-h, h)])
    corner_index = zoom.physical_to_index(corners)
    sample_lo, sample_hi = corner_index.min(axis=0), corner_index.max(axis=0)
    shape = np.asarray(zoom.shape_xyz, dtype=float)
    centre = (shape - 1.0) / 2.0
    half = shape * np.array([factor_xy, factor_xy, factor_z]) / 2.0
    lo = np.maximum(np.floor(centre - half + 0.5), np.ceil(sample_lo)).astype(int)
    hi = np.minimum(np.floor(centre + half + 0.5), np.floor(sample_hi) + 1).astype(int)
    if np.any(hi <= lo):
        raise ValueError("the context region does not meet the sample")
    new_centre = zoom.index_to_physical((lo + hi - 1) / 2.0)
    return zoom.model_copy(
        update={
            "shape_zyx": (int(hi[2] - lo[2]), int(hi[1] - lo[1]), int(hi[0] - lo[0])),
            "centre_mm": tuple(float(v) for v in new_centre),
        }
    )


def write_volume(path: Path, volume: np.ndarray, grid: VolumeGrid) -> None:
    """A float32 truth volume, written atomically (its grid is in ``truth.json``)."""
    from pipeline.acquisition.writer import write_tiff

    if volume.shape != grid.shape_zyx:
        raise ValueError(f"volume shape {volume.shape} does not match grid {grid.shape_zyx}")
    write_tiff(path, np.ascontiguousarray(volume, dtype=np.float32))


def load_truth(truth_dir: Path) -> tuple[SimulationTruth, Phantom]:
    """Read ``truth.json`` and ``phantom.json`` from a simulator's truth folder."""
    truth_dir = Path(truth_dir)
    documents = []
    for name, model in ((TRUTH_JSON, SimulationTruth), (PHANTOM_JSON, Phantom)):
        path = truth_dir / name
        try:
            documents.append(model.model_validate_json(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise InputError(path, "missing (not a simulator truth folder?)") from None
        except ValueError as error:
            raise InputError(path, f"invalid: {error}") from None
    return documents[0], documents[1]


def read_truth_volume(truth_dir: Path, name: Literal["scout", "zoom", "context"]) -> np.ndarray:
    """One voxelised truth volume (attenuation, 1/mm, float32 ``[z, y, x]``)."""
    path = Path(truth_dir) / VOLUME_FILES[name]
    if not path.exists():
        raise InputError(path, "missing (simulated with truth_volumes off?)")
    return tifffile.imread(path)
