"""The foam phantom: a solid cylinder with non-overlapping spherical pores.

The phantom is analytic (a cylinder and a list of spheres), so projections can
be exact line integrals and truth volumes can be voxelised on any grid. Pores
are placed by random sequential addition, largest first, with a spatial hash
so each trial checks only nearby pores.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from pipeline.simulate.config import PhantomSettings

MAX_TRIALS_PER_PORE = 20_000
TRIAL_BATCH = 64


class Cylinder(BaseModel):
    """A solid cylinder with its axis along z."""

    model_config = ConfigDict(frozen=True)

    radius_mm: float = Field(gt=0)
    height_mm: float = Field(gt=0)
    centre_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def volume_mm3(self) -> float:
        return math.pi * self.radius_mm**2 * self.height_mm


class Pore(BaseModel):
    """An empty sphere (mu = 0)."""

    model_config = ConfigDict(frozen=True)

    centre_mm: tuple[float, float, float]
    radius_mm: float = Field(gt=0)


class Phantom(BaseModel):
    """Cylinder of attenuation ``mu_per_mm`` minus pores; lengths in mm, sample frame."""

    format_version: Literal[1] = 1
    cylinder: Cylinder
    mu_per_mm: float = Field(gt=0)
    pores: list[Pore] = Field(default_factory=list)

    def pore_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Pore centres ``[n, 3]`` and radii ``[n]`` (float64, mm)."""
        if not self.pores:
            return np.zeros((0, 3)), np.zeros(0)
        centres = np.array([p.centre_mm for p in self.pores], dtype=np.float64)
        radii = np.array([p.radius_mm for p in self.pores], dtype=np.float64)
        return centres, radii

    @property
    def pore_volume_mm3(self) -> float:
        _, radii = self.pore_arrays()
        return float(np.sum(4.0 / 3.0 * math.pi * radii**3))

    @property
    def porosity(self) -> float:
        """Analytic pore volume fraction of the cylinder."""
        return self.pore_volume_mm3 / self.cylinder.volume_mm3

    def save(self, path: Path) -> None:
        Path(path).write_text(self.model_dump_json(indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Phantom:
        return cls.model_validate_json(Path(path).read_text(encoding="utf-8"))


def pore_diameters_mm(settings: PhantomSettings, rng: np.random.Generator) -> np.ndarray:
    """Log-normal diameters (clipped to the allowed range) scaled to hit the target porosity, largest first."""
    target_mm3 = settings.porosity * math.pi * settings.radius_mm**2 * settings.height_mm
    shape = np.exp(settings.pore_size_sigma * rng.standard_normal(settings.pores))
    lo, hi = settings.min_pore_diameter_mm, settings.max_pore_diameter_mm
    median = (6.0 * target_mm3 / (math.pi * np.sum(shape**3))) ** (1.0 / 3.0)
    for _ in range(100):  # clipping changes the volume: fixed-point on the median
        diameters = np.clip(median * shape, lo, hi)
        volume = math.pi / 6.0 * float(np.sum(diameters**3))
        if abs(volume / target_mm3 - 1.0) < 1e-6:
            break
        median *= (target_mm3 / volume) ** (1.0 / 3.0)
    if abs(volume / target_mm3 - 1.0) > 0.01:
        raise ValueError(
            f"{settings.pores} pores between {lo} and {hi} mm cannot make porosity {settings.porosity} "
            f"(reached {volume / (target_mm3 / settings.porosity):.3f}); change pores or the diameter range"
        )
    return np.sort(diameters)[::-1]


class _SpatialHash:
    """Pores binned in cubic cells at least as large as any conflict distance."""

    def __init__(self, cell_mm: float, capacity: int) -> None:
        self.cell_mm = cell_mm
        self.cells: dict[tuple[int, int, int], list[int]] = {}
        self.centres = np.zeros((capacity, 3))
        self.radii = np.zeros(capacity)
        self.count = 0

    def _key(self, point: np.ndarray) -> tuple[int, int, int]:
        return tuple(int(v) for v in np.floor(point / self.cell_mm))  # type: ignore[return-value]

    def fits(self, centre: np.ndarray, radius: float, wall_mm: float) -> bool:
        kx, ky, kz = self._key(centre)
        near: list[int] = []
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for dz in (-1, 0, 1):
                    near.extend(self.cells.get((kx + dx, ky + dy, kz + dz), ()))
        if not near:
            return True
        index = np.asarray(near)
        gap = np.linalg.norm(self.centres[index] - centre, axis=1) - self.radii[index] - radius
        return bool(np.all(gap >= wall_mm))

    def add(self, centre: np.ndarray, radius: float) -> None:
        self.centres[self.count] = centre
        self.radii[self.count] = radius
        self.cells.setdefault(self._key(centre), []).append(self.count)
        self.count += 1


def generate_phantom(settings: PhantomSettings, rng: np.random.Generator) -> Phantom:
    """A random foam: pores placed by random sequential addition, fully inside the cylinder."""
    diameters = pore_diameters_mm(settings, rng)
    grid = _SpatialHash(settings.max_pore_diameter_mm + settings.min_wall_mm, len(diameters))
    for number, diameter in enumerate(diameters):
        radius = diameter / 2.0
        reach_mm = settings.radius_mm - settings.skin_mm - radius
        half_height_mm = settings.height_mm / 2.0 - settings.skin_mm - radius
        placed = False
        for _ in range(MAX_TRIALS_PER_PORE // TRIAL_BATCH):
            u = rng.random((TRIAL_BATCH, 3))
            rho = reach_mm * np.sqrt(u[:, 0])
            phi = 2.0 * math.pi * u[:, 1]
            trials = np.stack([rho * np.cos(phi), rho * np.sin(phi), half_height_mm * (2.0 * u[:, 2] - 1.0)], axis=1)
            for centre in trials:
                if grid.fits(centre, radius, settings.min_wall_mm):
                    grid.add(centre, radius)
                    placed = True
                    break
            if placed:
                break
        if not placed:
            raise ValueError(
                f"could not place pore {number + 1} of {len(diameters)} (diameter {diameter:.4f} mm) "
                f"after {MAX_TRIALS_PER_PORE} trials; lower porosity or min_wall_mm"
            )
    mu = settings.central_line_integral / (2.0 * settings.radius_mm)
    pores = [Pore(centre_mm=tuple(float(v) for v in c), radius_mm=float(r)) for c, r in zip(grid.centres, grid.radii)]
    return Phantom(
        cylinder=Cylinder(radius_mm=settings.radius_mm, height_mm=settings.height_mm), mu_per_mm=mu, pores=pores
    )
