"""Voxel grids in a scan's frame (contract v1), in ITK's convention.

A grid places a ``[z, y, x]`` array in space: the physical position (mm,
``[x, y, z]``) of voxel index ``(i, j, k)`` (x, y, z order) is
``origin + direction @ (spacing * (i, j, k))``; ``direction``'s columns are the
unit vectors of the x, y and z index axes. Grids are described by their
*centre* because that is what the contract and users talk about (the centre
of voxel ``(n-1)/2`` along each axis). With ``direction`` and anisotropic
``spacing`` a grid can be the zoom grid as seen from the scout frame after
registration (rotation and scale), so the scout can be reconstructed straight
onto it.
"""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]


class VolumeGrid(BaseModel):
    """Shape, voxel spacing, centre and orientation of a volume (all mm, [x, y, z])."""

    model_config = ConfigDict(frozen=True)

    shape_zyx: tuple[PositiveInt, PositiveInt, PositiveInt]
    spacing_mm: tuple[PositiveFloat, PositiveFloat, PositiveFloat]
    centre_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: tuple[float, float, float, float, float, float, float, float, float] = IDENTITY

    @field_validator("direction")
    @classmethod
    def _orthonormal(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        matrix = np.asarray(value, dtype=float).reshape(3, 3)
        if not np.allclose(matrix.T @ matrix, np.eye(3), atol=1e-6):
            raise ValueError(f"direction must be a rotation matrix (got {value})")
        return value

    @model_validator(mode="after")
    def _finite(self) -> VolumeGrid:
        if not all(math.isfinite(v) for v in self.centre_mm):
            raise ValueError(f"centre_mm must be finite (got {self.centre_mm})")
        return self

    # -- construction -----------------------------------------------------
    @classmethod
    def isotropic(
        cls,
        shape_zyx: tuple[int, int, int],
        voxel_mm: float,
        centre_mm: tuple[float, float, float] = (0.0, 0.0, 0.0),
    ) -> VolumeGrid:
        """An axis-aligned grid with cubic voxels."""
        return cls(shape_zyx=shape_zyx, spacing_mm=(voxel_mm,) * 3, centre_mm=centre_mm)

    @classmethod
    def covering(
        cls,
        size_mm: tuple[float, float, float],
        voxel_mm: float,
        centre_mm: tuple[float, float, float] = (0.0, 0.0, 0.0),
    ) -> VolumeGrid:
        """The smallest isotropic grid whose voxels cover a box of ``size_mm`` ([x, y, z])."""
        shape = tuple(max(1, int(math.ceil(s / voxel_mm - 1e-9))) for s in size_mm)
        return cls.isotropic((shape[2], shape[1], shape[0]), voxel_mm, centre_mm)

    # -- derived ----------------------------------------------------------
    @property
    def shape_xyz(self) -> tuple[int, int, int]:
        return (self.shape_zyx[2], self.shape_zyx[1], self.shape_zyx[0])

    @property
    def direction_matrix(self) -> np.ndarray:
        return np.asarray(self.direction, dtype=float).reshape(3, 3)

    @property
    def voxel_mm(self) -> float:
        """The voxel size for isotropic grids (mean spacing otherwise)."""
        return float(np.mean(self.spacing_mm))

    @property
    def is_axis_aligned(self) -> bool:
        return bool(np.allclose(self.direction_matrix, np.eye(3), atol=1e-12))

    @property
    def n_voxels(self) -> int:
        z, y, x = self.shape_zyx
        return z * y * x

    @property
    def size_mm(self) -> tuple[float, float, float]:
        """Edge lengths of the box covered by the voxels ([x, y, z])."""
        return tuple(float(n * s) for n, s in zip(self.shape_xyz, self.spacing_mm))  # type: ignore[return-value]

    @property
    def origin_mm(self) -> tuple[float, float, float]:
        """Centre of voxel ``[0, 0, 0]`` ([x, y, z]); ITK's origin."""
        half = (np.asarray(self.shape_xyz, dtype=float) - 1.0) / 2.0 * np.asarray(self.spacing_mm)
        origin = np.asarray(self.centre_mm) - self.direction_matrix @ half
        return tuple(float(v) for v in origin)  # type: ignore[return-value]

    # -- coordinates --------------------------------------------------------
    def index_to_physical(self, index_xyz: np.ndarray) -> np.ndarray:
        """Physical positions ``[..., 3]`` (x, y, z mm) of (fractional) indices ``[..., 3]`` (x, y, z)."""
        index = np.asarray(index_xyz, dtype=float)
        scaled = index * np.asarray(self.spacing_mm)
        return scaled @ self.direction_matrix.T + np.asarray(self.origin_mm)

    def physical_to_index(self, point_xyz: np.ndarray) -> np.ndarray:
        """Fractional indices ``[..., 3]`` (x, y, z) of physical points ``[..., 3]``."""
        rel = np.asarray(point_xyz, dtype=float) - np.asarray(self.origin_mm)
        return (rel @ self.direction_matrix) / np.asarray(self.spacing_mm)

    def axis_coordinates(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """1-D voxel-centre coordinates (z, y, x) of an axis-aligned grid."""
        if not self.is_axis_aligned:
            raise ValueError("axis_coordinates needs an axis-aligned grid")
        ox, oy, oz = self.origin_mm
        sx, sy, sz = self.spacing_mm
        nz, ny, nx = self.shape_zyx
        return (oz + sz * np.arange(nz), oy + sy * np.arange(ny), ox + sx * np.arange(nx))

    def voxel_centres(self) -> np.ndarray:
        """Physical positions ``[z, y, x, 3]`` of every voxel centre (small grids only)."""
        nz, ny, nx = self.shape_zyx
        k, j, i = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
        return self.index_to_physical(np.stack([i, j, k], axis=-1))

    # -- derived grids ------------------------------------------------------
    def with_centre(self, centre_mm: tuple[float, float, float]) -> VolumeGrid:
        return self.model_copy(update={"centre_mm": tuple(float(c) for c in centre_mm)})

    def sub_grid(
        self, z0: int, z1: int, y0: int = 0, y1: int | None = None, x0: int = 0, x1: int | None = None
    ) -> VolumeGrid:
        """The grid of ``array[z0:z1, y0:y1, x0:x1]`` (slabs for streaming)."""
        nz, ny, nx = self.shape_zyx
        y1 = ny if y1 is None else y1
        x1 = nx if x1 is None else x1
        if not (0 <= z0 < z1 <= nz and 0 <= y0 < y1 <= ny and 0 <= x0 < x1 <= nx):
            raise ValueError(f"sub-grid [{z0}:{z1}, {y0}:{y1}, {x0}:{x1}] outside shape {self.shape_zyx}")
        centre_index = np.array([(x0 + x1 - 1) / 2.0, (y0 + y1 - 1) / 2.0, (z0 + z1 - 1) / 2.0])
        centre = self.index_to_physical(centre_index)
        return self.model_copy(
            update={"shape_zyx": (z1 - z0, y1 - y0, x1 - x0), "centre_mm": tuple(float(c) for c in centre)}
        )

    def corners_mm(self) -> np.ndarray:
        """Physical positions ``[8, 3]`` of the outer corners of the voxel box."""
        nx, ny, nz = self.shape_xyz
        lo, hi = -0.5, np.array([nx, ny, nz]) - 0.5
        corners = np.array([[x, y, z] for x in (lo, hi[0]) for y in (lo, hi[1]) for z in (lo, hi[2])])
        return self.index_to_physical(corners)
