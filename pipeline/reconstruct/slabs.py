"""Split a grid into z slabs whose FDK working memory fits a budget.

Each slab needs only the detector rows its voxels project onto (cone
geometry), so a thin slab of a tall volume also needs few projection rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.acquisition.contract import Geometry
from pipeline.grid import VolumeGrid
from pipeline.reconstruct.mask import rows_needed

_FLOAT = 4
_RAMP_SUBSET = 16  # projections RTK filters at once (its default subset size)


@dataclass(frozen=True)
class Slab:
    z0: int
    z1: int
    row0: int
    row1: int
    grid: VolumeGrid


def slab_bytes(geometry: Geometry, grid: VolumeGrid, rows: int, parker: bool) -> int:
    """Estimated peak working memory of one slab: two volume buffers, the projection crop(s), ramp scratch."""
    volume = 2 * grid.n_voxels * _FLOAT
    projections = (2 if parker else 1) * geometry.n_angles * rows * geometry.columns * _FLOAT
    ramp = 4 * _RAMP_SUBSET * rows * 2 * geometry.columns * _FLOAT
    return volume + projections + ramp


def plan_slabs(
    geometry: Geometry, grid: VolumeGrid, budget_bytes: float, parker: bool = False
) -> tuple[list[Slab], int]:
    """Slabs covering ``grid`` along z, each within ``budget_bytes`` if at all possible.

    Returns the slabs and the estimated peak bytes of the largest one (which
    exceeds the budget only when a single z slice does).
    """
    nz = grid.shape_zyx[0]

    def cost(z0: int, z1: int) -> int:
        sub = grid.sub_grid(z0, z1)
        row0, row1 = rows_needed(geometry, sub)
        return slab_bytes(geometry, sub, row1 - row0, parker)

    # largest thickness whose worst slab (the one farthest from the source plane) fits
    lo, hi = 1, nz
    while lo < hi:
        mid = (lo + hi + 1) // 2
        worst = max(cost(0, mid), cost(nz - mid, nz))
        if worst <= budget_bytes:
            lo = mid
        else:
            hi = mid - 1
    thickness = lo
    slabs: list[Slab] = []
    peak = 0
    for z0 in range(0, nz, thickness):
        z1 = min(nz, z0 + thickness)
        sub = grid.sub_grid(z0, z1)
        row0, row1 = rows_needed(geometry, sub)
        peak = max(peak, slab_bytes(geometry, sub, row1 - row0, parker))
        slabs.append(Slab(z0, z1, row0, row1, sub))
    return slabs, peak
